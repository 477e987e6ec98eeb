//! Every semantic check of the derive, and the context that collects their errors.
//!
//! The `kind` and `route` rules are the ones of `oob::payload::kind_is_valid` and
//! `oob::payload::route_id_position`, re-implemented here (the derive does not depend on
//! `oob`) with a message per way of breaking them. The tests cross-check both.

use std::fmt::{self, Display};

use proc_macro2::Span;
use quote::ToTokens;
use syn::{Error, LitStr, Path, parse_quote};

use crate::ast::{Input, Shape};
use crate::attr::{Key, Value};

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
    if let (Some(attr), false) = (attrs.first, attrs.incomplete) {
        for key in [Key::Kind, Key::Route] {
            if let Value::Missing = attrs.get(key) {
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

/// The longest kind, in bytes.
const KIND_MAX_LEN: usize = 64;

/// Why a `kind` is invalid.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum KindError {
    Empty,
    TooLong(usize),
    BadStart(char),
    BadChar(char),
}

/// Checks `kind` against `[a-z][a-z0-9_.-]*`, at most 64 bytes.
pub(crate) fn check_kind(kind: &str) -> Result<(), KindError> {
    let mut chars = kind.chars();
    let Some(first) = chars.next() else {
        return Err(KindError::Empty);
    };
    if !first.is_ascii_lowercase() {
        return Err(KindError::BadStart(first));
    }
    if let Some(c) = chars.find(|&c| !kind_char(c)) {
        return Err(KindError::BadChar(c));
    }
    if kind.len() > KIND_MAX_LEN {
        return Err(KindError::TooLong(kind.len()));
    }
    Ok(())
}

fn kind_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')
}

/// A valid kind close to `kind` (snake_cased, invalid characters replaced), if any.
fn suggest_kind(kind: &str) -> Option<String> {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in kind.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        let c = c.to_ascii_lowercase();
        if kind_char(c) {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_start_matches(|c: char| !c.is_ascii_lowercase());
    let out = out.trim_end_matches('_');
    (out != kind && check_kind(out).is_ok()).then(|| out.to_owned())
}

impl KindError {
    /// The error message for this error on `kind`, with how to fix it.
    pub(crate) fn message(&self, kind: &str) -> String {
        let rule = "a kind is lowercase ASCII letters, digits, `_`, `.` and `-`, starting with a letter (`[a-z][a-z0-9_.-]*`)";
        let fix = match suggest_kind(kind) {
            Some(suggestion) => format!("; write e.g. `kind = \"{suggestion}\"`"),
            None => String::new(),
        };
        match self {
            KindError::Empty => {
                "`kind` is empty: name the interaction, e.g. `kind = \"device_code\"`".to_owned()
            }
            KindError::TooLong(len) => format!(
                "`kind` is {len} bytes long, more than the {KIND_MAX_LEN} allowed: shorten it"
            ),
            KindError::BadStart(c) => format!(
                "`kind` must start with a lowercase ASCII letter, not {}: {rule}{fix}",
                describe(*c)
            ),
            KindError::BadChar(c) => {
                format!("`kind` cannot contain {}: {rule}{fix}", describe(*c))
            }
        }
    }
}

/// How to name `c` in a message: "a space", or the character between backticks.
fn describe(c: char) -> String {
    match c {
        ' ' => "a space".to_owned(),
        c => format!("`{}`", c.escape_debug()),
    }
}

/// Why a `route` is invalid.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RouteError {
    Empty,
    NoLeadingSlash,
    FullUrl,
    Space,
    Control(char),
    Fragment,
    /// A `{...}` other than `{id}`, e.g. `{name}`.
    UnknownPlaceholder(String),
    UnclosedBrace,
    UnmatchedClose,
    NoId,
    DuplicateId,
}

/// Checks `route`: it starts with `/`, contains `{id}` exactly once and no other `{` or
/// `}`, and has no fragment, space or control character. Returns the byte position of
/// `{id}`, like `oob::payload::route_id_position`.
pub(crate) fn check_route(route: &str) -> Result<usize, RouteError> {
    let b = route.as_bytes();
    match b.first() {
        None => return Err(RouteError::Empty),
        Some(b'/') => {}
        Some(_) if route.contains("://") => return Err(RouteError::FullUrl),
        Some(_) => return Err(RouteError::NoLeadingSlash),
    }
    let mut pos = None;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b' ' => return Err(RouteError::Space),
            c if c < b' ' || c == 0x7f => return Err(RouteError::Control(char::from(c))),
            b'#' => return Err(RouteError::Fragment),
            b'{' if b[i..].starts_with(b"{id}") => {
                if pos.is_some() {
                    return Err(RouteError::DuplicateId);
                }
                pos = Some(i);
                i += 4;
                continue;
            }
            b'{' => {
                let rest = &b[i + 1..];
                return match rest.iter().position(|&c| c == b'{' || c == b'}') {
                    Some(end) if rest[end] == b'}' => Err(RouteError::UnknownPlaceholder(
                        route[i..i + end + 2].to_owned(),
                    )),
                    _ => Err(RouteError::UnclosedBrace),
                };
            }
            b'}' => return Err(RouteError::UnmatchedClose),
            _ => {}
        }
        i += 1;
    }
    pos.ok_or(RouteError::NoId)
}

impl RouteError {
    /// The error message for this error on `route`, with how to fix it.
    pub(crate) fn message(&self, route: &str) -> String {
        match self {
            RouteError::Empty => "`route` is empty: give the callback path with one `{id}` placeholder, \
                 e.g. `route = \"/oob/device/{id}\"`"
                .to_owned(),
            RouteError::NoLeadingSlash => {
                format!("`route` must start with `/`: write `route = \"/{route}\"`")
            }
            RouteError::FullUrl => "`route` must be a path, not a URL: the manager's callback base \
                 supplies the scheme and host; write e.g. `route = \"/oob/device/{id}\"`"
                .to_owned(),
            RouteError::Space => "`route` cannot contain spaces: remove them or percent-encode them as `%20`"
                .to_owned(),
            RouteError::Control(c) => format!(
                "`route` cannot contain control characters, found `{}` (U+{:04X}): remove it",
                c.escape_default(),
                u32::from(*c)
            ),
            RouteError::Fragment => "`route` cannot contain a fragment (`#...`): browsers never send it \
                 to the server; remove the `#` and what follows it"
                .to_owned(),
            RouteError::UnknownPlaceholder(name) => {
                let fix = if route.contains("{id}") {
                    format!("remove `{name}`")
                } else {
                    format!("rename `{name}` to `{{id}}`")
                };
                format!("unknown placeholder `{name}`: the route takes exactly one `{{id}}`; {fix}")
            }
            RouteError::UnclosedBrace => {
                "`route` has an unclosed `{`: write the placeholder as `{id}`".to_owned()
            }
            RouteError::UnmatchedClose => {
                "`route` has a `}` without a matching `{`: remove it, or write the placeholder as `{id}`"
                    .to_owned()
            }
            RouteError::NoId => {
                let example = if route.contains('?') {
                    format!("{route}&id={{id}}")
                } else {
                    format!("{}/{{id}}", route.trim_end_matches('/'))
                };
                format!(
                    "`route` has no `{{id}}` placeholder, which carries the pending's id: add one \
                     as a path segment or a query value, e.g. `route = \"{example}\"`"
                )
            }
            RouteError::DuplicateId => {
                "`route` contains `{id}` more than once: keep exactly one `{id}`".to_owned()
            }
        }
    }
}

/// Why a `ttl` is invalid.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TtlError {
    Empty,
    Space,
    Negative,
    /// A group that does not start with a number; holds the text from there on.
    ExpectedNumber(String),
    /// A number without a unit; holds the number.
    MissingUnit(String),
    UnknownUnit(String),
    Fraction,
    TooLarge,
    Zero,
}

/// Parses a TTL: one or more `<digits><unit>` groups, unit `s`, `m` or `h` (e.g. `"90s"`,
/// `"10m"`, `"1h30m"`), into seconds. A zero total is an error.
pub(crate) fn parse_ttl(ttl: &str) -> Result<u64, TtlError> {
    if ttl.is_empty() {
        return Err(TtlError::Empty);
    }
    if ttl.contains(char::is_whitespace) {
        return Err(TtlError::Space);
    }
    if ttl.starts_with('-') {
        return Err(TtlError::Negative);
    }
    let b = ttl.as_bytes();
    let mut total: u64 = 0;
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(TtlError::ExpectedNumber(ttl[start..].to_owned()));
        }
        let number = &ttl[start..i];
        let unit_start = i;
        while i < b.len() && !b[i].is_ascii_digit() {
            i += 1;
        }
        let secs_per_unit = match &ttl[unit_start..i] {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "" => return Err(TtlError::MissingUnit(number.to_owned())),
            unit if unit.starts_with(['.', ',']) => return Err(TtlError::Fraction),
            unit => return Err(TtlError::UnknownUnit(unit.to_owned())),
        };
        total = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(secs_per_unit))
            .and_then(|secs| total.checked_add(secs))
            .ok_or(TtlError::TooLarge)?;
    }
    if total == 0 {
        return Err(TtlError::Zero);
    }
    Ok(total)
}

impl Display for TtlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const GRAMMAR: &str = "write `<number><unit>` groups with unit `s`, `m` or `h`, \
                               e.g. `ttl = \"90s\"`, `\"10m\"` or `\"1h30m\"`";
        match self {
            TtlError::Empty => write!(
                f,
                "`ttl` is empty: {GRAMMAR}, or remove `ttl` to use the manager's default"
            ),
            TtlError::Space => write!(
                f,
                "`ttl` cannot contain spaces: write the groups together, e.g. `ttl = \"1h30m\"`"
            ),
            TtlError::Negative => write!(f, "`ttl` cannot be negative: {GRAMMAR}"),
            TtlError::ExpectedNumber(rest) => {
                write!(f, "invalid `ttl`: expected a number at `{rest}`; {GRAMMAR}")
            }
            TtlError::MissingUnit(n) => write!(
                f,
                "`ttl` needs a unit after `{n}`: write `\"{n}s\"`, `\"{n}m\"` or `\"{n}h\"`"
            ),
            TtlError::UnknownUnit(unit) => {
                let hint = match unit.as_str() {
                    "sec" | "secs" | "second" | "seconds" => " (use `s` for seconds)",
                    "min" | "mins" | "minute" | "minutes" => " (use `m` for minutes)",
                    "hr" | "hrs" | "hour" | "hours" => " (use `h` for hours)",
                    "d" | "day" | "days" => " (days are not supported: use hours, e.g. `\"24h\"`)",
                    "ms" | "us" | "ns" => " (the smallest unit is the second)",
                    "S" | "M" | "H" => " (units are lowercase)",
                    _ => "",
                };
                write!(f, "unknown `ttl` unit `{unit}`{hint}: {GRAMMAR}")
            }
            TtlError::Fraction => write!(
                f,
                "`ttl` cannot have fractions: combine units instead, e.g. `\"1h30m\"` for 1.5 hours"
            ),
            TtlError::TooLarge => write!(
                f,
                "`ttl` is too large to count in seconds: give a shorter duration"
            ),
            TtlError::Zero => write!(
                f,
                "`ttl` is zero, so every pending would expire at once: give a positive duration \
                 such as `ttl = \"10m\"`, or remove `ttl` to use the manager's default"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `oob::payload::route_id_position`, copied verbatim: the reference for `check_route`.
    const fn route_id_position(route: &str) -> Option<usize> {
        let b = route.as_bytes();
        if b.is_empty() || b[0] != b'/' {
            return None;
        }
        let mut pos = None;
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            if c <= b' ' || c == 0x7f || c == b'#' {
                return None;
            }
            if c == b'{' {
                if i + 4 <= b.len() && b[i + 1] == b'i' && b[i + 2] == b'd' && b[i + 3] == b'}' {
                    if pos.is_some() {
                        return None;
                    }
                    pos = Some(i);
                    i += 4;
                    continue;
                }
                return None;
            }
            if c == b'}' {
                return None;
            }
            i += 1;
        }
        pos
    }

    /// `oob::payload::kind_is_valid`, copied verbatim: the reference for `check_kind`.
    const fn kind_is_valid(kind: &str) -> bool {
        let b = kind.as_bytes();
        if b.is_empty() || b.len() > 64 || !b[0].is_ascii_lowercase() {
            return false;
        }
        let mut i = 1;
        while i < b.len() {
            let c = b[i];
            if !(c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || c == b'_'
                || c == b'.'
                || c == b'-')
            {
                return false;
            }
            i += 1;
        }
        true
    }

    /// Every string of up to `max_len` characters over `alphabet`.
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

    #[test]
    fn routes() {
        assert_eq!(check_route("/oob/{id}"), Ok(5));
        assert_eq!(check_route("/oob?id={id}"), Ok(8));
        assert_eq!(check_route("/{id}/x"), Ok(1));
        assert_eq!(check_route("/café/{id}"), Ok(7));
        assert_eq!(check_route(""), Err(RouteError::Empty));
        assert_eq!(check_route("oob/{id}"), Err(RouteError::NoLeadingSlash));
        assert_eq!(check_route("https://ex.com/{id}"), Err(RouteError::FullUrl));
        assert_eq!(check_route("/oob"), Err(RouteError::NoId));
        assert_eq!(check_route("/{id}/{id}"), Err(RouteError::DuplicateId));
        assert_eq!(
            check_route("/{name}/{id}"),
            Err(RouteError::UnknownPlaceholder("{name}".into()))
        );
        assert_eq!(
            check_route("/{}"),
            Err(RouteError::UnknownPlaceholder("{}".into()))
        );
        assert_eq!(check_route("/a b/{id}"), Err(RouteError::Space));
        assert_eq!(check_route("/a\t/{id}"), Err(RouteError::Control('\t')));
        assert_eq!(check_route("/a\x7f/{id}"), Err(RouteError::Control('\x7f')));
        assert_eq!(check_route("/a/{id}#frag"), Err(RouteError::Fragment));
        assert_eq!(check_route("/a/{id"), Err(RouteError::UnclosedBrace));
        assert_eq!(check_route("/a/{{id}"), Err(RouteError::UnclosedBrace));
        assert_eq!(check_route("/a/id}"), Err(RouteError::UnmatchedClose));
    }

    #[test]
    fn routes_agree_with_oob() {
        let alphabet = ['/', '{', '}', 'i', 'd', '#', ' ', '?', '=', '\t'];
        for route in strings(&alphabet, 6) {
            assert_eq!(
                check_route(&route).ok(),
                route_id_position(&route),
                "{route:?}"
            );
        }
    }

    #[test]
    fn route_messages() {
        let msg = |r: &str| check_route(r).unwrap_err().message(r);
        assert_eq!(
            msg("/{name}"),
            "unknown placeholder `{name}`: the route takes exactly one `{id}`; rename `{name}` to `{id}`"
        );
        assert!(msg("/{name}/{id}").ends_with("remove `{name}`"));
        assert!(msg("oob/{id}").contains(r#"`route = "/oob/{id}"`"#));
        assert!(msg("/oob/").contains(r#"`route = "/oob/{id}"`"#));
        assert!(msg("/oob?x=1").contains(r#"`route = "/oob?x=1&id={id}"`"#));
        assert!(msg("/a\t{id}").contains(r"`\t` (U+0009)"));
    }

    #[test]
    fn kinds() {
        assert_eq!(check_kind("device_code"), Ok(()));
        assert_eq!(check_kind("a.b-c_1"), Ok(()));
        assert_eq!(check_kind(&"a".repeat(64)), Ok(()));
        assert_eq!(check_kind(""), Err(KindError::Empty));
        assert_eq!(check_kind("Device"), Err(KindError::BadStart('D')));
        assert_eq!(check_kind("1abc"), Err(KindError::BadStart('1')));
        assert_eq!(check_kind("a b"), Err(KindError::BadChar(' ')));
        assert_eq!(check_kind("deviceCode"), Err(KindError::BadChar('C')));
        assert_eq!(check_kind(&"a".repeat(65)), Err(KindError::TooLong(65)));
    }

    #[test]
    fn kinds_agree_with_oob() {
        for kind in strings(&['a', 'Z', '0', '_', '.', '-', ' ', 'é'], 5) {
            assert_eq!(check_kind(&kind).is_ok(), kind_is_valid(&kind), "{kind:?}");
        }
        for len in 60..70 {
            let kind = "k".repeat(len);
            assert_eq!(check_kind(&kind).is_ok(), kind_is_valid(&kind), "{len}");
        }
    }

    #[test]
    fn kind_suggestions() {
        assert_eq!(suggest_kind("DeviceCode").as_deref(), Some("device_code"));
        assert_eq!(suggest_kind("device code").as_deref(), Some("device_code"));
        assert_eq!(suggest_kind("api/key").as_deref(), Some("api_key"));
        assert_eq!(suggest_kind("OAuth").as_deref(), Some("oauth"));
        assert_eq!(suggest_kind("!!!"), None);
        assert!(
            KindError::BadStart('D')
                .message("DeviceCode")
                .ends_with("write e.g. `kind = \"device_code\"`")
        );
    }

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl("90s"), Ok(90));
        assert_eq!(parse_ttl("10m"), Ok(600));
        assert_eq!(parse_ttl("1h"), Ok(3600));
        assert_eq!(parse_ttl("1h30m"), Ok(5400));
        assert_eq!(parse_ttl("1h0m5s"), Ok(3605));
        assert_eq!(parse_ttl("007s"), Ok(7));
        assert_eq!(parse_ttl("0s1s"), Ok(1));
        assert_eq!(parse_ttl(""), Err(TtlError::Empty));
        assert_eq!(parse_ttl("0s"), Err(TtlError::Zero));
        assert_eq!(parse_ttl("0h0m0s"), Err(TtlError::Zero));
        assert_eq!(parse_ttl("10"), Err(TtlError::MissingUnit("10".into())));
        assert_eq!(parse_ttl("1h30"), Err(TtlError::MissingUnit("30".into())));
        assert_eq!(parse_ttl("10min"), Err(TtlError::UnknownUnit("min".into())));
        assert_eq!(parse_ttl("2d"), Err(TtlError::UnknownUnit("d".into())));
        assert_eq!(parse_ttl("10M"), Err(TtlError::UnknownUnit("M".into())));
        assert_eq!(parse_ttl("1.5h"), Err(TtlError::Fraction));
        assert_eq!(parse_ttl("10 m"), Err(TtlError::Space));
        assert_eq!(parse_ttl(" 10m"), Err(TtlError::Space));
        assert_eq!(parse_ttl("-5m"), Err(TtlError::Negative));
        assert_eq!(parse_ttl("m"), Err(TtlError::ExpectedNumber("m".into())));
        assert_eq!(parse_ttl("h1"), Err(TtlError::ExpectedNumber("h1".into())));
        assert_eq!(parse_ttl("99999999999999999999s"), Err(TtlError::TooLarge));
        assert_eq!(parse_ttl("18446744073709551615h"), Err(TtlError::TooLarge));
        assert_eq!(parse_ttl("18446744073709551615s"), Ok(u64::MAX));
        assert_eq!(
            parse_ttl("18446744073709551615s1s"),
            Err(TtlError::TooLarge)
        );
    }

    #[test]
    fn ttl_messages() {
        assert!(
            parse_ttl("10min")
                .unwrap_err()
                .to_string()
                .contains("use `m` for minutes")
        );
        assert!(
            parse_ttl("10")
                .unwrap_err()
                .to_string()
                .contains(r#"`"10s"`, `"10m"` or `"10h"`"#)
        );
    }

    mod props {
        use super::super::*;
        use super::route_id_position;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]

            /// Any sum of `<n><unit>` groups parses to its number of seconds.
            #[test]
            fn ttl_groups_sum(groups in prop::collection::vec((0u64..100_000, 0usize..3), 1..5)) {
                let units = [("s", 1u64), ("m", 60), ("h", 3600)];
                let text: String = groups.iter().map(|(n, u)| format!("{n}{}", units[*u].0)).collect();
                let secs: u64 = groups.iter().map(|(n, u)| n * units[*u].1).sum();
                if secs == 0 {
                    prop_assert_eq!(parse_ttl(&text), Err(TtlError::Zero));
                } else {
                    prop_assert_eq!(parse_ttl(&text), Ok(secs));
                }
            }

            /// Arbitrary text never panics the TTL parser, and every error has a message.
            #[test]
            fn ttl_never_panics(s in ".{0,24}") {
                if let Err(e) = parse_ttl(&s) {
                    prop_assert!(!e.to_string().is_empty());
                }
            }

            /// The derive's route check and the library's const check agree on any input, and
            /// an accepted route has exactly one `{id}` at the reported position.
            #[test]
            fn routes_agree(s in "[/a-z{}?=#% .\t]{0,24}|\\PC{0,24}") {
                let derive = check_route(&s);
                prop_assert_eq!(derive.as_ref().ok().copied(), route_id_position(&s));
                match derive {
                    Ok(pos) => {
                        prop_assert_eq!(&s[pos..pos + 4], "{id}");
                        prop_assert_eq!(s.matches("{id}").count(), 1);
                        prop_assert!(s.starts_with('/'));
                    }
                    Err(e) => prop_assert!(!e.message(&s).is_empty()),
                }
            }
        }
    }
}
