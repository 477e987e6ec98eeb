//! The rule a payload's callback route follows, as a `const fn` the manager builder checks at
//! compile time (`#[derive(OobPayload)]` checks the same rule, with a message per way of
//! breaking it, in `oob-derive/src/valid/route.rs`; keep the two in step).

/// Where the `{id}` placeholder stands in a valid route, or `None` when the route is invalid.
///
/// A valid route:
/// - starts with `/` and is printable ASCII that a URL may carry as is: no space, control
///   character, `#` (a fragment never reaches the server), `\`, `"`, `<`, `>`, `^`, `` ` ``,
///   `|`, and no `{` or `}` but those of one `{id}`;
/// - has a path (up to the first `?`) of non-empty segments (a trailing `/` aside), none of
///   them `.` or `..` (each dot written `.` or `%2e`, in either case, as URL parsers read
///   them), none starting with `:` or `*` (axum reads those as captures);
/// - carries `{id}` as a whole path segment (`/oob/{id}/page`), or as the whole value of a
///   query parameter (`/oob?id={id}&from=mail`) whose key is letters, digits, `.`, `_`,
///   `~` or `-` and appears once.
#[must_use]
pub const fn route_id_position(route: &str) -> Option<usize> {
    let b = route.as_bytes();
    if b.is_empty() || b[0] != b'/' {
        return None;
    }
    let query = find(b, 0, b'?');
    let path_end = match query {
        Some(q) => q,
        None => b.len(),
    };
    let mut pos = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c <= b' '
            || c >= 0x7f
            || matches!(
                c,
                b'#' | b'\\' | b'"' | b'<' | b'>' | b'^' | b'`' | b'|' | b'}'
            )
        {
            return None;
        }
        if c == b'{' {
            if !is_id_at(b, i) || pos.is_some() {
                return None;
            }
            pos = Some(i);
            i += 4;
            continue;
        }
        i += 1;
    }
    let Some(pos) = pos else {
        return None;
    };
    // The path's segments.
    let mut start = 1;
    while start <= path_end {
        let end = match find(b, start, b'/') {
            Some(e) if e < path_end => e,
            _ => path_end,
        };
        let len = end - start;
        let last = end == path_end;
        if (len == 0 && !last)
            || is_dot_segment(b, start, end)
            || (len > 0 && (b[start] == b':' || b[start] == b'*'))
            || (pos >= start && pos < end && (pos != start || len != 4))
        {
            return None;
        }
        start = end + 1;
    }
    if pos < path_end {
        return Some(pos);
    }
    // In the query: `key={id}` as a whole parameter, the key once.
    let (mut key_start, mut key_end) = (0, 0);
    let mut p = path_end + 1;
    while p <= b.len() {
        let end = match find(b, p, b'&') {
            Some(e) => e,
            None => b.len(),
        };
        if pos >= p && pos < end {
            if pos + 4 != end || pos < p + 2 || b[pos - 1] != b'=' {
                return None;
            }
            let mut k = p;
            while k < pos - 1 {
                let c = b[k];
                if !(c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'~' | b'-')) {
                    return None;
                }
                k += 1;
            }
            (key_start, key_end) = (p, pos - 1);
        }
        p = end + 1;
    }
    // No other parameter with that key.
    let mut p = path_end + 1;
    while p <= b.len() {
        let end = match find(b, p, b'&') {
            Some(e) => e,
            None => b.len(),
        };
        let n = key_end - key_start;
        if p != key_start
            && end - p >= n
            && same(b, p, key_start, n)
            && (end - p == n || b[p + n] == b'=')
        {
            return None;
        }
        p = end + 1;
    }
    Some(pos)
}

/// Whether `b[start..end]` is a dot segment as a URL parser reads it (WHATWG URL: `.` or
/// `..`, each dot written `.` or `%2e` in either case): a browser resolves it away, so the
/// route would not be the path it sends.
const fn is_dot_segment(b: &[u8], start: usize, end: usize) -> bool {
    let (mut i, mut dots) = (start, 0);
    while i < end {
        if b[i] == b'.' {
            i += 1;
        } else if i + 3 <= end && b[i] == b'%' && b[i + 1] == b'2' && (b[i + 2] | 0x20) == b'e' {
            i += 3;
        } else {
            return false;
        }
        dots += 1;
    }
    dots == 1 || dots == 2
}

/// The first `c` in `b` at or after `from`.
const fn find(b: &[u8], from: usize, c: u8) -> Option<usize> {
    let mut i = from;
    while i < b.len() {
        if b[i] == c {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Whether `{id}` starts at `i`.
const fn is_id_at(b: &[u8], i: usize) -> bool {
    i + 4 <= b.len() && b[i] == b'{' && b[i + 1] == b'i' && b[i + 2] == b'd' && b[i + 3] == b'}'
}

/// Whether the `n` bytes at `a` and at `c` are the same.
const fn same(b: &[u8], a: usize, c: usize, n: usize) -> bool {
    let mut i = 0;
    while i < n {
        if b[a + i] != b[c + i] {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::route_id_position;

    /// The routes both this rule and the derive's (`oob-derive/src/valid/route.rs`, the same
    /// table) take, with where `{id}` stands.
    const VALID: &[(&str, usize)] = &[
        ("/oob/{id}", 5),
        ("/{id}", 1),
        ("/{id}/x", 1),
        ("/oob/{id}/", 5),
        ("/a:b/{id}", 5),
        ("/a/{id}/page?from=mail", 3),
        ("/oob?id={id}", 8),
        ("/cb?x=1&id={id}&y=2", 11),
        ("/cb?a.b~c-d_e={id}", 14),
        ("/cb/%7E?id={id}", 11),
        ("/a/%2e%2e%2e/{id}", 13),
        ("/a/.x/{id}", 6),
    ];

    /// Routes both rules refuse.
    const INVALID: &[&str] = &[
        "",
        "oob/{id}",
        "https://ex.com/{id}",
        "/oob",
        "/{id}/{id}",
        "/{name}/{id}",
        "/a b/{id}",
        "/a/{id}#frag",
        "/a/{id",
        "/a/id}",
        "/cb/{id}.json",
        "/cb/x{id}",
        "/cb/:v/{id}",
        "/cb/*/{id}",
        "/cb/*rest/{id}",
        "//evil.example/{id}",
        "/a//{id}",
        "/a/./{id}",
        "/a/../{id}",
        "/{id}/..",
        "/a/%2e%2e/{id}",
        "/a/%2E%2e/%2e/{id}",
        "/a/.%2E/{id}",
        "/{id}/%2e",
        "/caf\u{e9}/{id}",
        "/cb\"/{id}",
        "/cb<x>/{id}",
        "/\\evil.example/{id}",
        "/cb|/{id}",
        "/cb?{id}",
        "/cb?id=x{id}",
        "/cb?id={id}x",
        "/cb?={id}",
        "/cb?a%5Fb={id}",
        "/cb?a+b={id}",
        "/cb?a=1;id={id}",
        "/cb?p=/x/{id}",
        "/oob?id=s&id={id}",
        "/oob?id={id}&id",
    ];

    #[test]
    fn the_rule() {
        for (route, pos) in VALID {
            assert_eq!(route_id_position(route), Some(*pos), "{route}");
        }
        for route in INVALID {
            assert_eq!(route_id_position(route), None, "{route}");
        }
    }
}
