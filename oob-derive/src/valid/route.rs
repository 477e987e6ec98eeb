//! The `route` rule: a path starting with `/` with exactly one `{id}` placeholder, as a
//! whole path segment or a whole query value, in characters a URL carries as is, with no
//! other placeholder, fragment, empty, dot or capture segment; a message per way of
//! breaking it. The same rule as `oob::payload::route_id_position` (`oob/src/route_rule.rs`),
//! which the manager builder checks for hand-written payloads: keep the two in step.

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
    /// A character a URL does not carry as is (non-ASCII, `\`, `"`, `<`, `>`, `^`, `` ` ``, `|`).
    Illegal(char),
    /// `//` in the path.
    EmptySegment,
    /// A `.` or `..` path segment.
    DotSegment,
    /// A path segment starting with `:` or `*`.
    CaptureSegment(char),
    /// `{id}` in the path with more in its segment.
    IdNotWholeSegment,
    /// `{id}` in the query but not as a whole `key={id}` parameter with a plain key.
    IdNotWholeQueryValue,
    /// The `{id}` parameter's key appears twice in the query.
    DuplicateQueryKey(String),
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
    let pos = pos.ok_or(RouteError::NoId)?;
    if let Some(c) = route
        .chars()
        .find(|c| !c.is_ascii() || matches!(c, '\\' | '"' | '<' | '>' | '^' | '`' | '|'))
    {
        return Err(RouteError::Illegal(c));
    }
    let (path, query) = route
        .split_once('?')
        .map_or((route, None), |(p, q)| (p, Some(q)));
    let segments: Vec<&str> = path[1..].split('/').collect();
    let mut at = 1;
    for (n, seg) in segments.iter().enumerate() {
        if seg.is_empty() && n + 1 < segments.len() {
            return Err(RouteError::EmptySegment);
        }
        if *seg == "." || *seg == ".." {
            return Err(RouteError::DotSegment);
        }
        if let Some(c) = seg.chars().next().filter(|c| matches!(c, ':' | '*')) {
            return Err(RouteError::CaptureSegment(c));
        }
        if (at..at + seg.len()).contains(&pos) && *seg != "{id}" {
            return Err(RouteError::IdNotWholeSegment);
        }
        at += seg.len() + 1;
    }
    let Some(query) = query.filter(|_| pos > path.len()) else {
        return Ok(pos);
    };
    let key_of = |pair: &str| pair.split_once('=').map_or(pair, |(k, _)| k).to_owned();
    let Some(id_pair) = query.split('&').find(|pair| pair.contains("{id}")) else {
        return Err(RouteError::IdNotWholeQueryValue);
    };
    let key = id_pair.strip_suffix("={id}").unwrap_or("");
    if key.is_empty()
        || !key
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'~' | b'-'))
    {
        return Err(RouteError::IdNotWholeQueryValue);
    }
    if query.split('&').filter(|pair| key_of(pair) == key).count() > 1 {
        return Err(RouteError::DuplicateQueryKey(key.to_owned()));
    }
    Ok(pos)
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
            RouteError::Illegal(c) => format!(
                "`route` cannot contain `{c}`, which a URL does not carry as is: percent-encode \
                 it (`{}`) or remove it",
                c.to_string()
                    .bytes()
                    .map(|b| format!("%{b:02X}"))
                    .collect::<String>()
            ),
            RouteError::EmptySegment => {
                "`route` has an empty path segment (`//`), which browsers and routers read \
                 differently: remove the extra `/`"
                    .to_owned()
            }
            RouteError::DotSegment => {
                "`route` has a `.` or `..` path segment, which browsers resolve away before \
                 sending: remove it"
                    .to_owned()
            }
            RouteError::CaptureSegment(c) => format!(
                "`route` has a path segment starting with `{c}`, which axum reads as a capture \
                 and refuses: rename that segment"
            ),
            RouteError::IdNotWholeSegment => {
                "`{id}` must be a whole path segment, so the router and the extractor find it: \
                 put it between `/`s, e.g. `route = \"/oob/device/{id}\"` (or \
                 `\"/oob/device/{id}/page\"`)"
                    .to_owned()
            }
            RouteError::IdNotWholeQueryValue => {
                "`{id}` in the query must be a whole parameter value under a plain key \
                 (letters, digits, `.`, `_`, `~`, `-`), e.g. `route = \"/oob/device?id={id}\"`"
                    .to_owned()
            }
            RouteError::DuplicateQueryKey(key) => format!(
                "`route`'s query has the key `{key}` more than once, so the id's place is \
                 ambiguous: keep one `{key}=`"
            ),
        }
    }
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
