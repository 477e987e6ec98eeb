//! The `route` rule: a path starting with `/` with exactly one `{id}` placeholder, as a
//! path segment or a query value, and no other placeholder, fragment, space or control
//! character; a message per way of breaking it.

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::valid::strings;

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

    mod props {
        use super::super::*;
        use super::route_id_position;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]

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
