//! The `route` rule: a path starting with `/` with exactly one `{id}` placeholder, as a
//! whole path segment or a whole query value, in characters a URL carries as is, with no
//! other placeholder, fragment, empty, dot or capture segment; a message per way of
//! breaking it. A route a message offers (`route = "..."`) passes `check_route` itself;
//! where none is found, the message gives the advice alone.
//!
//! The same rule as `oob::payload::route_id_position` (`oob/src/route_rule.rs`), which the
//! manager builder checks for hand-written payloads: keep the two in step.

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
    let (path, query) = split_query(route);
    let segments: Vec<&str> = path[1..].split('/').collect();
    let mut at = 1;
    for (n, seg) in segments.iter().enumerate() {
        if seg.is_empty() && n + 1 < segments.len() {
            return Err(RouteError::EmptySegment);
        }
        if is_dot_segment(seg) {
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

/// Whether `seg` is a dot segment as a URL parser reads it (WHATWG URL: `.` or `..`, each
/// dot written `.` or `%2e` in either case).
fn is_dot_segment(seg: &str) -> bool {
    let dots = seg.replace("%2e", ".").replace("%2E", ".");
    dots == "." || dots == ".."
}

impl RouteError {
    /// The error message for this error on `route`, with how to fix it.
    pub(crate) fn message(&self, route: &str) -> String {
        match self {
            RouteError::Empty => "`route` is empty: give the callback path with one `{id}` placeholder, \
                 e.g. `route = \"/oob/device/{id}\"`"
                .to_owned(),
            RouteError::NoLeadingSlash => {
                let fixed = format!("/{route}");
                match check_route(&fixed) {
                    Ok(_) => format!("`route` must start with `/`: write `route = \"{fixed}\"`"),
                    // Say what else is wrong now, not on the next compile.
                    Err(next) => format!(
                        "`route` must start with `/`; with the `/` added, {}",
                        next.message(&fixed)
                    ),
                }
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
            RouteError::NoId => no_id_message(route),
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
                "`route` has a `.` or `..` path segment (a dot may be written `%2e`), which \
                 browsers resolve away before sending: remove it"
                    .to_owned()
            }
            RouteError::CaptureSegment(c) => {
                let segment = capture_segments(route).next().unwrap_or(":");
                let (what, axum_08) = axum_capture(segment);
                format!(
                    "`route` has the path segment `{segment}`: a segment starting with `{c}` is \
                     axum 0.7's {what} syntax, which axum 0.8 refuses (it writes this {what} as \
                     `{axum_08}`), and a route captures nothing but its one `{{id}}`: make that \
                     segment plain text, not starting with `{c}`, or remove it"
                )
            }
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

/// The message for a route without `{id}`: a fix that passes [`check_route`] when one is
/// found, the advice alone otherwise.
fn no_id_message(route: &str) -> String {
    let (path, query) = split_query(route);
    let head = "`route` has no `{id}` placeholder, which carries the pending's id";
    // axum 0.7's `:id`, or the route's only capture: the id goes there, as `{id}`.
    let captures: Vec<&str> = capture_segments(route).collect();
    let capture = captures
        .iter()
        .find(|segment| segment[1..] == *"id")
        .or(captures.first().filter(|_| captures.len() == 1));
    if let Some(segment) = capture {
        let fixed = replace_segment(route, segment, "{id}");
        if check_route(&fixed).is_ok() {
            let (what, axum_08) = axum_capture(segment);
            let also = if *segment == ":id" {
                ""
            } else {
                ", and the pending's id is the one capture a route takes, `{id}`"
            };
            return format!(
                "{head}: `{segment}` is axum 0.7's {what} syntax; axum 0.8 writes {what}s as \
                 `{axum_08}`{also}: write `route = \"{fixed}\"`"
            );
        }
    }
    let mut candidates = Vec::new();
    if let Some(query) = query {
        let sep = if query.is_empty() || query.ends_with('&') {
            ""
        } else {
            "&"
        };
        candidates.push(format!("{route}{sep}id={{id}}"));
    }
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    candidates.push(format!("{}/{{id}}{query}", path.trim_end_matches('/')));
    let note = captures
        .first()
        .map(|segment| {
            format!(
                " (and `{segment}` is axum 0.7's {} syntax, which axum 0.8 refuses: a route \
                 captures nothing but its `{{id}}`)",
                axum_capture(segment).0
            )
        })
        .unwrap_or_default();
    match candidates.into_iter().find(|c| check_route(c).is_ok()) {
        Some(fixed) => format!(
            "{head}{note}: add one as a path segment or a query value, e.g. `route = \"{fixed}\"`"
        ),
        None => format!(
            "{head}{note}: add one as a whole path segment (`/.../{{id}}`) or as the value of a \
             query key the route does not use yet (`?id={{id}}`)"
        ),
    }
}

/// `route`'s path and its query (after the first `?`), if any.
fn split_query(route: &str) -> (&str, Option<&str>) {
    route
        .split_once('?')
        .map_or((route, None), |(path, query)| (path, Some(query)))
}

/// The path segments of `route` that axum 0.7 read as captures: `:name` and `*name`.
fn capture_segments(route: &str) -> impl Iterator<Item = &str> {
    split_query(route)
        .0
        .split('/')
        .filter(|segment| segment.starts_with([':', '*']))
}

/// What axum 0.7 read `segment` (`:name` or `*name`) as, a capture or a wildcard, and how
/// axum 0.8 writes it (`{name}` or `{*name}`).
fn axum_capture(segment: &str) -> (&'static str, String) {
    let (what, star, name) = match segment.split_at(1) {
        ("*", name) => ("wildcard", "*", name),
        (_, name) => ("capture", "", name),
    };
    let name = if name.is_empty() { "name" } else { name };
    (what, format!("{{{star}{name}}}"))
}

/// `route` with the first path segment equal to `segment` replaced by `with`.
fn replace_segment(route: &str, segment: &str, with: &str) -> String {
    let (path, query) = split_query(route);
    let mut done = false;
    let path: Vec<&str> = path
        .split('/')
        .map(|s| {
            if !done && s == segment {
                done = true;
                with
            } else {
                s
            }
        })
        .collect();
    let query = query.map(|q| format!("?{q}")).unwrap_or_default();
    format!("{}{query}", path.join("/"))
}

#[cfg(test)]
#[path = "route_tests.rs"]
mod tests;
