//! Where a request carries its pending id: the route's `{id}` path parameter, the same
//! place in the request path when no router matched one, or the route's query parameter.

use axum::extract::{FromRequestParts, RawPathParams};
use http::request::Parts;

use super::rejection::{InteractionRejection, RejectionKind};
use crate::id::PendingId;
use crate::payload::route_id_position;

/// The longest raw (still percent-encoded) id text looked at: a canonical id with every
/// character percent-encoded. Anything longer is malformed without decoding it.
const MAX_RAW_ID: usize = 36 * 3;

/// The path a payload's callbacks are routed on: `route` itself for a path route
/// (`/oob/key/{id}`), the part before `?` for a query route (`/oob?id={id}` → `/oob`).
///
/// ```
/// assert_eq!(oob::http::route_path("/oob/key/{id}"), "/oob/key/{id}");
/// assert_eq!(oob::http::route_path("/oob?id={id}"), "/oob");
/// ```
#[must_use]
pub fn route_path(route: &str) -> &str {
    route.split_once('?').map_or(route, |(path, _)| path)
}

/// Where in `route` the id stands.
enum Place<'r> {
    /// In the path, between these two literal parts.
    Path { prefix: &'r str, suffix: &'r str },
    /// In the query, under this key.
    Query { key: &'r str },
}

fn place(route: &str) -> Place<'_> {
    let Some(pos) = route_id_position(route) else {
        return Place::Query { key: "id" };
    };
    let before = &route[..pos];
    match before.find('?') {
        None => Place::Path {
            prefix: before,
            suffix: route_path(&route[pos + 4..]),
        },
        Some(q) => {
            let key = before[q + 1..]
                .rsplit('&')
                .next()
                .and_then(|kv| kv.strip_suffix('='))
                .filter(|k| !k.is_empty())
                .unwrap_or("id");
            Place::Query { key }
        }
    }
}

fn malformed() -> InteractionRejection {
    InteractionRejection::new(RejectionKind::MalformedId)
}

/// Strict percent-decoding (`+` as a space when `plus` is set): every `%` must start a
/// two-digit hex escape and the result must be UTF-8.
fn percent_decode(raw: &str, plus: bool) -> Option<String> {
    if !raw.contains(['%', '+']) {
        return Some(raw.to_owned());
    }
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hi = (*b.get(i + 1)? as char).to_digit(16)?;
                let lo = (*b.get(i + 2)? as char).to_digit(16)?;
                out.push(u8::try_from(hi * 16 + lo).ok()?);
                i += 3;
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn parse(decoded: &str) -> Result<PendingId, InteractionRejection> {
    decoded
        .parse()
        .map_err(|e| InteractionRejection::with_source(RejectionKind::MalformedId, e))
}

fn parse_raw(raw: &str, plus: bool) -> Result<PendingId, InteractionRejection> {
    if raw.len() > MAX_RAW_ID {
        return Err(malformed());
    }
    parse(&percent_decode(raw, plus).ok_or_else(malformed)?)
}

/// The pending id of a request for a payload whose route is `route`:
/// 1. the `{id}` path parameter of the route axum matched, if there is one;
/// 2. for a path route, the same place in the request path (a layer in front of any
///    service, where no router matched);
/// 3. the route's query parameter (`id` unless the route names another); given twice, it
///    is malformed.
pub(crate) async fn locate_id(
    parts: &mut Parts,
    route: &str,
) -> Result<PendingId, InteractionRejection> {
    match RawPathParams::from_request_parts(parts, &()).await {
        Ok(params) => {
            if let Some((_, v)) = params.iter().find(|(k, _)| *k == "id") {
                // axum has percent-decoded it already (leniently: parsing rejects a `%`).
                return parse(v);
            }
        }
        // A path parameter that does not decode to UTF-8.
        Err(axum::extract::rejection::RawPathParamsRejection::InvalidUtf8InPathParam(_)) => {
            return Err(malformed());
        }
        Err(_) => {}
    }
    match place(route) {
        Place::Path { prefix, suffix } => {
            let rest = parts
                .uri
                .path()
                .strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(suffix))
                .ok_or_else(|| InteractionRejection::new(RejectionKind::MissingId))?;
            if rest.is_empty() {
                return Err(InteractionRejection::new(RejectionKind::MissingId));
            }
            if rest.contains('/') {
                return Err(malformed());
            }
            parse_raw(rest, false)
        }
        Place::Query { key } => {
            let query = parts.uri.query().unwrap_or("");
            let mut found = None;
            for pair in query.split('&') {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                let k_decoded;
                let k = if k.contains(['%', '+']) {
                    // A key that does not decode is not the route's: another
                    // parameter's business.
                    let Some(decoded) = percent_decode(k, true) else {
                        continue;
                    };
                    k_decoded = decoded;
                    k_decoded.as_str()
                } else {
                    k
                };
                if k == key {
                    if found.is_some() {
                        return Err(malformed());
                    }
                    found = Some(v);
                }
            }
            match found {
                None => Err(InteractionRejection::new(RejectionKind::MissingId)),
                Some("") => Err(InteractionRejection::new(RejectionKind::MalformedId)),
                Some(v) => parse_raw(v, true),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str) -> Parts {
        http::Request::builder()
            .uri(uri)
            .body(())
            .expect("valid request")
            .into_parts()
            .0
    }

    async fn locate(route: &str, uri: &str) -> Result<PendingId, RejectionKind> {
        locate_id(&mut parts(uri), route)
            .await
            .map_err(|r| r.kind())
    }

    #[tokio::test]
    async fn from_path_and_query() {
        let id = PendingId::random();
        assert_eq!(locate("/cb/{id}", &format!("/cb/{id}")).await, Ok(id));
        assert_eq!(locate("/cb/{id}/x", &format!("/cb/{id}/x")).await, Ok(id));
        let upper = id.to_string().to_uppercase();
        assert_eq!(locate("/cb/{id}", &format!("/cb/{upper}")).await, Ok(id));
        assert_eq!(
            locate("/oob?id={id}", &format!("/oob?id={id}")).await,
            Ok(id)
        );
        assert_eq!(
            locate("/oob?a=1&p={id}", &format!("/oob?x=1&p={id}&id=zz")).await,
            Ok(id)
        );
        let hyphen = id.to_string().replace('-', "%2D");
        assert_eq!(
            locate("/oob?id={id}", &format!("/oob?id={hyphen}")).await,
            Ok(id)
        );
    }

    #[tokio::test]
    async fn rejections() {
        use RejectionKind::{MalformedId, MissingId};
        let id = PendingId::random();
        assert_eq!(locate("/cb/{id}", "/cb/").await, Err(MissingId));
        assert_eq!(locate("/cb/{id}", "/other").await, Err(MissingId));
        assert_eq!(locate("/cb/{id}", "/cb/a/b").await, Err(MalformedId));
        assert_eq!(
            locate("/cb/{id}", "/cb/..%2F..%2Fetc").await,
            Err(MalformedId)
        );
        assert_eq!(locate("/cb/{id}", "/cb/%ZZ").await, Err(MalformedId));
        assert_eq!(locate("/cb/{id}", "/cb/%FF%FE").await, Err(MalformedId));
        let long = "a".repeat(5000);
        assert_eq!(
            locate("/cb/{id}", &format!("/cb/{long}")).await,
            Err(MalformedId)
        );
        assert_eq!(locate("/oob?id={id}", "/oob").await, Err(MissingId));
        assert_eq!(locate("/oob?id={id}", "/oob?id=").await, Err(MalformedId));
        assert_eq!(
            locate("/oob?id={id}", &format!("/oob?id={id}&id={id}")).await,
            Err(MalformedId)
        );
        assert_eq!(
            locate("/oob?id={id}", &format!("/oob?id=+{id}")).await,
            Err(MalformedId)
        );
    }

    #[test]
    fn paths() {
        assert_eq!(route_path("/a/{id}"), "/a/{id}");
        assert_eq!(route_path("/a?id={id}"), "/a");
        assert_eq!(route_path("/a/{id}/b?x=1"), "/a/{id}/b");
    }
}
