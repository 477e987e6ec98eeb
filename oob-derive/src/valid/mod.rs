//! Every semantic check of the derive, and the context that collects their errors.
//!
//! The `kind` and `route` rules are the ones of `oob::payload::kind_is_valid` and
//! `oob::payload::route_id_position`, re-implemented here (the derive does not depend on
//! `oob`) with a message per way of breaking them. The tests cross-check both.
//!
//! The rules themselves are in `kind`, `route` and `ttl`, a file each with its tests.

use std::fmt::Display;

use proc_macro2::Span;
use quote::ToTokens;
use syn::{Error, LitStr, Path, parse_quote};

use crate::ast::{Input, Shape};
use crate::attr::Key;

mod kind;
mod route;
mod ttl;

use kind::check_kind;
use route::check_route;
use ttl::parse_ttl;

/// Collects every error of one derive input, to report them all at once, in source order.
pub(crate) struct Ctxt {
    /// Each error with the position it was reported at.
    errors: Vec<(usize, Error)>,
    position: usize,
}

/// The position of errors on the item itself, after its attributes.
pub(crate) const ITEM: usize = usize::MAX;

impl Ctxt {
    pub(crate) fn new() -> Self {
        Ctxt {
            errors: Vec::new(),
            position: 0,
        }
    }

    /// Sets where the next errors stand in the source: the index of the `key = value` they
    /// are about among all the keys of the `#[oob(...)]` attributes, or [`ITEM`].
    pub(crate) fn at(&mut self, position: usize) {
        self.position = position;
    }

    pub(crate) fn push(&mut self, error: Error) {
        self.errors.push((self.position, error));
    }

    pub(crate) fn error(&mut self, span: Span, message: impl Display) {
        self.push(Error::new(span, message));
    }

    pub(crate) fn error_spanned(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.push(Error::new_spanned(tokens, message));
    }

    /// All the errors combined into one, or `Ok` when there were none.
    pub(crate) fn finish(mut self) -> syn::Result<()> {
        self.errors.sort_by_key(|(position, _)| *position);
        let mut errors = self.errors.into_iter().map(|(_, error)| error);
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for error in errors {
            combined.combine(error);
        }
        Err(combined)
    }
}

/// The checked values the impl is generated from. Where a value is missing or wrong (its
/// error is in the context), a placeholder stands in, so that the impl can still be emitted
/// beside the errors and one mistake does not cascade into "trait not implemented" errors.
pub(crate) struct Payload {
    pub(crate) kind: LitStr,
    pub(crate) route: LitStr,
    pub(crate) ttl_secs: Option<u64>,
    pub(crate) krate: Path,
}

const MISSING_ATTRIBUTE: &str = "missing `#[oob(...)]` attribute: `#[derive(OobPayload)]` needs a kind and a route; \
     add e.g. `#[oob(kind = \"device_code\", route = \"/oob/device/{id}\")]` below the derive";

/// Runs every check on `input`, reporting to `cx`.
pub(crate) fn check(input: &Input<'_>, cx: &mut Ctxt) -> Payload {
    let attrs = &input.attrs;
    cx.at(0);
    if let Some(attr) = attrs.first {
        for key in [Key::Kind, Key::Route] {
            if attrs.is_missing(key) {
                cx.error_spanned(
                    attr,
                    format!(
                        "missing `{}`: add `{}` to `#[oob(...)]`",
                        key.name(),
                        key.example()
                    ),
                );
            }
        }
    }

    let given = |key: Key, cx: &mut Ctxt| {
        let (lit, position) = attrs.get(key).given()?;
        cx.at(position);
        Some(lit)
    };
    let kind = given(Key::Kind, cx).and_then(|lit| match check_kind(&lit.value()) {
        Ok(()) => Some(LitStr::new(&lit.value(), lit.span())),
        Err(err) => {
            cx.error_spanned(lit, err.message(&lit.value()));
            None
        }
    });
    let route = given(Key::Route, cx).and_then(|lit| match check_route(&lit.value()) {
        Ok(_) => Some(LitStr::new(&lit.value(), lit.span())),
        Err(err) => {
            cx.error_spanned(lit, err.message(&lit.value()));
            None
        }
    });
    let ttl_secs = given(Key::Ttl, cx).and_then(|lit| match parse_ttl(&lit.value()) {
        Ok(secs) => Some(secs),
        Err(err) => {
            cx.error_spanned(lit, err);
            None
        }
    });
    let krate = given(Key::Crate, cx).and_then(|lit| match lit.parse_with(Path::parse_mod_style) {
        Ok(path) => Some(path),
        Err(_) => {
            cx.error_spanned(
                lit,
                "`crate` must be the path of the oob crate, e.g. `crate = \"my_reexport::oob\"`",
            );
            None
        }
    });

    cx.at(ITEM);
    if attrs.first.is_none() {
        cx.error_spanned(input.ident, MISSING_ATTRIBUTE);
    }
    if let Shape::Union(span) = input.shape {
        cx.error(
            span,
            "OobPayload cannot be derived for unions; use a struct or an enum",
        );
    }

    Payload {
        kind: kind.unwrap_or_else(|| LitStr::new("", Span::call_site())),
        route: route.unwrap_or_else(|| LitStr::new("/{id}", Span::call_site())),
        ttl_secs,
        krate: krate.unwrap_or_else(|| parse_quote!(::oob)),
    }
}

/// Every string of up to `max_len` characters over `alphabet`.
#[cfg(test)]
fn strings(alphabet: &[char], max_len: usize) -> Vec<String> {
    let mut all = vec![String::new()];
    let mut last = vec![String::new()];
    for _ in 0..max_len {
        last = last
            .iter()
            .flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}")))
            .collect();
        all.extend(last.iter().cloned());
    }
    all
}
