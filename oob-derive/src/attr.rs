//! The `#[oob(...)]` attributes, parsed with `parse_nested_meta`.
//!
//! This module only reads the syntax: which keys are given, and with which string literal.
//! What the strings must look like is checked in `valid`.

use proc_macro2::{TokenStream, TokenTree};
use syn::meta::ParseNestedMeta;
use syn::parse::ParseStream;
use syn::{Attribute, LitStr, Meta, Path, Token};

use crate::valid::Ctxt;

/// The keys `#[oob(...)]` accepts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Key {
    Kind,
    Route,
    Ttl,
    Crate,
}

impl Key {
    const ALL: [Key; 4] = [Key::Kind, Key::Route, Key::Ttl, Key::Crate];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Key::Kind => "kind",
            Key::Route => "route",
            Key::Ttl => "ttl",
            Key::Crate => "crate",
        }
    }

    /// A well-formed `key = "value"` to quote in error messages.
    pub(crate) fn example(self) -> &'static str {
        match self {
            Key::Kind => r#"kind = "device_code""#,
            Key::Route => r#"route = "/oob/device/{id}""#,
            Key::Ttl => r#"ttl = "10m""#,
            Key::Crate => r#"crate = "my_reexport::oob""#,
        }
    }

    fn from_path(path: &Path) -> Option<Key> {
        Key::ALL.into_iter().find(|key| path.is_ident(key.name()))
    }

    /// The key that `name`, an unknown key, is likely a misspelling of.
    fn misspelt_as(name: &str) -> Option<Key> {
        Key::ALL.into_iter().find(|key| similar(name, key.name()))
    }
}

/// One key of the attributes.
pub(crate) enum Value {
    /// Not given.
    Missing,
    /// Given, but not as a string literal; the error is already reported.
    Invalid,
    /// Given as this string literal, which remembers its span, as the `position`-th key of
    /// the attributes.
    Given { lit: LitStr, position: usize },
}

impl Value {
    pub(crate) fn given(&self) -> Option<(&LitStr, usize)> {
        match self {
            Value::Given { lit, position } => Some((lit, *position)),
            Value::Missing | Value::Invalid => None,
        }
    }
}

/// Everything the `#[oob(...)]` attributes of one type say.
pub(crate) struct Attrs<'a> {
    /// The first `#[oob(...)]` attribute: "missing key" errors point at it.
    pub(crate) first: Option<&'a Attribute>,
    pub(crate) kind: Value,
    pub(crate) route: Value,
    pub(crate) ttl: Value,
    pub(crate) krate: Value,
    /// Part of an attribute could not be read (a syntax error), so any key that looks
    /// missing may be there: do not report one missing.
    incomplete: bool,
    /// The keys that an unknown key is likely a misspelling of (`knd` for `kind`): the user
    /// gave them, under a wrong name, so do not report them missing too. An unknown key like
    /// nothing known (`colour`) hides nothing.
    misspelt: Vec<Key>,
    /// How many `key = value` entries were read so far.
    entries: usize,
}

impl Attrs<'_> {
    /// Whether `key` should be reported missing: it is not given, and no unreadable part of
    /// the attributes may be it.
    pub(crate) fn is_missing(&self, key: Key) -> bool {
        matches!(self.get(key), Value::Missing) && !self.incomplete && !self.misspelt.contains(&key)
    }

    pub(crate) fn get(&self, key: Key) -> &Value {
        match key {
            Key::Kind => &self.kind,
            Key::Route => &self.route,
            Key::Ttl => &self.ttl,
            Key::Crate => &self.krate,
        }
    }

    fn get_mut(&mut self, key: Key) -> &mut Value {
        match key {
            Key::Kind => &mut self.kind,
            Key::Route => &mut self.route,
            Key::Ttl => &mut self.ttl,
            Key::Crate => &mut self.krate,
        }
    }

    /// Reads one `key = value` of an attribute. Mistakes that leave the rest of the
    /// attribute readable are reported to `cx` and parsing goes on; only a broken syntax
    /// returns `Err`.
    fn parse_entry(&mut self, meta: &ParseNestedMeta<'_>, cx: &mut Ctxt) -> syn::Result<()> {
        let position = self.entries;
        self.entries += 1;
        cx.at(position);
        let Some(key) = Key::from_path(&meta.path) else {
            let name = path_to_string(&meta.path);
            let misspelt = Key::misspelt_as(&name);
            let hint = misspelt
                .map(|key| format!(" (did you mean `{}`?)", key.name()))
                .unwrap_or_default();
            cx.error_spanned(
                &meta.path,
                format!(
                    "unknown oob attribute `{name}`{hint}; expected one of `kind`, `route`, `ttl`, `crate`"
                ),
            );
            self.misspelt.extend(misspelt);
            // A missing comma (`colour route = ".."`) hides the key after it in what is
            // skipped: then a key that looks missing may be there.
            let skipped = skip_to_comma(meta.input)?;
            if skipped.into_iter().any(|tt| {
                matches!(&tt, TokenTree::Ident(i) if Key::ALL.into_iter().any(|k| i == k.name()))
            }) {
                self.incomplete = true;
            }
            return Ok(());
        };
        if !meta.input.peek(Token![=]) {
            cx.error_spanned(
                &meta.path,
                format!("`{}` needs a value: write `{}`", key.name(), key.example()),
            );
            skip_to_comma(meta.input)?;
            self.mark_invalid(key);
            return Ok(());
        }
        let input = meta.value()?;
        let value = if input.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            if lit.suffix().is_empty() {
                Value::Given { lit, position }
            } else {
                cx.error_spanned(
                    &lit,
                    format!(
                        "unexpected suffix `{}` on the string literal: write `{}`",
                        lit.suffix(),
                        key.example()
                    ),
                );
                Value::Invalid
            }
        } else {
            let tokens = skip_to_comma(input)?;
            let message = format!("expected a string literal, e.g. `{}`", key.example());
            if tokens.is_empty() {
                cx.error_spanned(&meta.path, message);
            } else {
                cx.error_spanned(tokens, message);
            }
            Value::Invalid
        };
        let slot = self.get_mut(key);
        if let Value::Missing = slot {
            *slot = value;
        } else {
            cx.error_spanned(
                &meta.path,
                format!(
                    "duplicate `{0}`: give `{0}` only once across the `#[oob(...)]` attributes",
                    key.name()
                ),
            );
        }
        Ok(())
    }

    /// Records that `key` was given (so it is not reported missing) but is unusable.
    fn mark_invalid(&mut self, key: Key) {
        let slot = self.get_mut(key);
        if let Value::Missing = slot {
            *slot = Value::Invalid;
        }
    }
}

/// Parses every `#[oob(...)]` among `attrs`, reporting syntax mistakes to `cx`.
pub(crate) fn parse<'a>(attrs: &'a [Attribute], cx: &mut Ctxt) -> Attrs<'a> {
    let mut out = Attrs {
        first: None,
        kind: Value::Missing,
        route: Value::Missing,
        ttl: Value::Missing,
        krate: Value::Missing,
        incomplete: false,
        misspelt: Vec::new(),
        entries: 0,
    };
    for attr in attrs.iter().filter(|attr| attr.path().is_ident("oob")) {
        out.first.get_or_insert(attr);
        cx.at(out.entries);
        if !matches!(attr.meta, Meta::List(_)) {
            cx.error_spanned(
                attr,
                r#"expected a list of keys: `#[oob(kind = "device_code", route = "/oob/device/{id}")]`"#,
            );
            out.incomplete = true;
            continue;
        }
        if let Err(err) = attr.parse_nested_meta(|meta| out.parse_entry(&meta, cx)) {
            cx.push(syn::Error::new(
                err.span(),
                format!(
                    "{err}: write the keys as `key = \"value\"`, separated by commas, \
                     e.g. `#[oob(kind = \"device_code\", route = \"/oob/device/{{id}}\")]`"
                ),
            ));
            out.incomplete = true;
        }
    }
    out
}

/// Consumes the tokens up to the next top-level `,` (or the end), returning them.
fn skip_to_comma(input: ParseStream<'_>) -> syn::Result<TokenStream> {
    input.step(|cursor| {
        let mut rest = *cursor;
        let mut tokens = TokenStream::new();
        while let Some((tt, next)) = rest.token_tree() {
            if matches!(&tt, TokenTree::Punct(p) if p.as_char() == ',') {
                break;
            }
            tokens.extend([tt]);
            rest = next;
        }
        Ok((tokens, rest))
    })
}

fn path_to_string(path: &Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let joined = segments.join("::");
    if path.leading_colon.is_some() {
        format!("::{joined}")
    } else {
        joined
    }
}

/// Whether `a` is at most one edit (insertion, deletion, substitution or swap of two
/// neighbours) away from `b`: a likely typo.
fn similar(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a == b {
        return true;
    }
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[prefix..], &b[prefix..]);
    match ra.len().cmp(&rb.len()) {
        std::cmp::Ordering::Less => ra == &rb[1..],
        std::cmp::Ordering::Greater => &ra[1..] == rb,
        std::cmp::Ordering::Equal => {
            ra[1..] == rb[1..]
                || (ra.len() >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos() {
        assert!(similar("knd", "kind"));
        assert!(similar("kinds", "kind"));
        assert!(similar("rotue", "route"));
        assert!(similar("tll", "ttl"));
        assert!(similar("crte", "crate"));
        assert!(!similar("name", "kind"));
        assert!(!similar("path", "route"));
        assert!(!similar("k", "kind"));
    }
}
