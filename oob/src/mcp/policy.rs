//! Security rules for what goes to an MCP client: a pending's URL travels only in URL mode,
//! and carries nothing but the opaque pending id.
//!
//! The value builders ([`UrlElicitation`](super::UrlElicitation),
//! [`InputRequest`](super::InputRequest)) check the callback URLs they send by [`check_url`]'s
//! rules on a URL's form (its namespace rule is for URLs built by hand); [`check_form`]
//! is for servers that build form-mode elicitations by hand.

use serde_json::Value;

use super::capability::ElicitationModes;
use super::error::McpError;
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::pending::Pending;
use crate::state::Open;

/// The longest callback URL accepted (browsers and clients handle far more; a longer one
/// suggests something rides along).
pub const MAX_URL_LEN: usize = 2048;

/// The longest path segment, other than the id, accepted in a callback URL: a longer one
/// looks like an encoded payload.
pub const MAX_STATIC_SEGMENT_LEN: usize = 64;

/// The shortest namespace that is searched for anywhere in a URL (a shorter one is only
/// refused as a whole host label or path segment, so `"a"` does not match every URL).
const MIN_SUBSTRING_NAMESPACE: usize = 6;

/// A URL or an elicitation that breaks a security rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The URL is not absolute `https` (plain `http` is accepted for loopback hosts only).
    #[error("a callback URL must be absolute https (http only on loopback)")]
    Scheme,
    /// The URL carries user information (`user:password@`).
    #[error("a callback URL must not carry credentials")]
    Credentials,
    /// The URL has a fragment, or a query other than `name=<pending id>`.
    #[error("a callback URL must have no fragment and no query but the pending id")]
    QueryOrFragment,
    /// The URL does not contain the pending id exactly once.
    #[error("a callback URL must contain the pending id exactly once")]
    Id,
    /// The URL contains the pending's namespace.
    #[error("a callback URL must not contain the namespace")]
    Namespace,
    /// The URL is too long, or has a segment that looks like an encoded payload.
    #[error("a callback URL must carry nothing but the opaque pending id")]
    Payload,
    /// A form-mode elicitation mentions a pending (its id or URL): secrets and the URLs that
    /// collect them go through URL mode only.
    #[error("a pending's URL must not be sent in form mode")]
    FormMode,
    /// The pending belongs to another namespace than the caller the value is for.
    #[error("the pending belongs to another caller")]
    ForeignPending,
    /// More pendings than one `requestState` holds ([`MAX_IDS`](crate::mcp::MAX_IDS)).
    #[error("more pendings than one request state holds")]
    TooManyPendings,
    /// Two input requests of one result share a name: the client would see one of them,
    /// and the state would name a pending nobody is asked about.
    #[error("two input requests share a name")]
    DuplicateName,
}

/// The callback URL of `pending` for a client with these elicitation modes: refused when the
/// client did not declare URL mode, or when the URL breaks [`check_url`]'s rules on its
/// form. What both revisions' URL-mode builders send.
///
/// The namespace rule is not applied here: a pending's callback URL is the manager's
/// callback base and `T::ROUTE`, the same for every user, around the random id, so no part
/// of it comes from the pending's namespace. Searching it for the namespace would only
/// refuse users whose namespace happens to equal a host label or a route segment (a user
/// `mcp` on `https://mcp.example.com`, a tenant `acme` on `https://acme.example.com`),
/// who could then never be asked.
pub(crate) fn url_for<T>(
    pending: &Pending<T, Open>,
    modes: ElicitationModes,
) -> Result<String, McpError> {
    modes.require_url()?;
    let url = pending.callback_url();
    check_form_of_url(&url, pending.id())?;
    Ok(url)
}

/// Checks that `url`, the callback URL of pending `id` of `namespace`, carries nothing but
/// the opaque id: absolute `https` (or `http` on a loopback host), no credentials, no
/// fragment, no query but `name=<id>`, the id exactly once, no namespace, no payload-like segment.
///
/// The namespace rule is a heuristic for URLs built by hand: the namespace must not be a
/// host label or a path segment (percent-decoded, case-insensitive), nor, when it has at
/// least six bytes, appear anywhere in the host or path. The callback URLs the MCP value
/// builders send are checked without it: nothing in them but the id varies by user.
pub fn check_url(url: &str, id: PendingId, namespace: &Namespace) -> Result<(), PolicyError> {
    check_form_of_url(url, id)?;
    let (url, _) = url.split_once('?').unwrap_or((url, ""));
    let (_, rest) = url.split_once("://").ok_or(PolicyError::Scheme)?;
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let ns = namespace.as_str().to_lowercase();
    let decoded = percent_decode(path).to_lowercase();
    let labels = host_of(authority).to_ascii_lowercase();
    let mut parts = labels
        .split('.')
        .map(str::to_owned)
        .chain(decoded.split('/').map(str::to_owned));
    if parts.any(|p| p == ns) {
        return Err(PolicyError::Namespace);
    }
    if ns.len() >= MIN_SUBSTRING_NAMESPACE && (decoded.contains(&ns) || labels.contains(&ns)) {
        return Err(PolicyError::Namespace);
    }
    Ok(())
}

/// [`check_url`]'s rules but the namespace's: absolute `https` (or `http` on loopback), no
/// credentials, no fragment, no query but `name=<id>`, the id exactly once, no
/// payload-like segment.
fn check_form_of_url(url: &str, id: PendingId) -> Result<(), PolicyError> {
    if url.len() > MAX_URL_LEN {
        return Err(PolicyError::Payload);
    }
    if url.contains('#') {
        return Err(PolicyError::QueryOrFragment);
    }
    let id_text = id.encode();
    let id_text = id_text.as_str();
    let (url, query) = url.split_once('?').unwrap_or((url, ""));
    if !query.is_empty() && !is_id_query(query, id_text) {
        return Err(PolicyError::QueryOrFragment);
    }
    let (scheme, rest) = url.split_once("://").ok_or(PolicyError::Scheme)?;
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    if authority.contains('@') {
        return Err(PolicyError::Credentials);
    }
    let host = host_of(authority);
    match scheme.to_ascii_lowercase().as_str() {
        "https" => {}
        "http" if is_loopback(host) => {}
        _ => return Err(PolicyError::Scheme),
    }
    if host.is_empty() {
        return Err(PolicyError::Scheme);
    }
    let lower = url.to_ascii_lowercase();
    if lower.matches(id_text).count() + usize::from(!query.is_empty()) != 1 {
        return Err(PolicyError::Id);
    }
    let decoded = percent_decode(path).to_lowercase();
    let without_id = decoded.replace(id_text, "");
    if without_id
        .split('/')
        .any(|segment| segment.len() > MAX_STATIC_SEGMENT_LEN)
    {
        return Err(PolicyError::Payload);
    }
    Ok(())
}

/// Checks hand-built `elicitation/create` params: form mode (an explicit `"mode": "form"`
/// or none, the legacy form) must not mention any of the `pendings` (their id, and so
/// their URL). URL-mode params pass.
pub fn check_form(
    params: &Value,
    pendings: impl IntoIterator<Item = PendingId>,
) -> Result<(), PolicyError> {
    if params.get("mode").and_then(Value::as_str) == Some("url") {
        return Ok(());
    }
    let text = params.to_string().to_ascii_lowercase();
    for id in pendings {
        if text.contains(id.encode().as_str()) || text.contains(&id.simple_hex()) {
            return Err(PolicyError::FormMode);
        }
    }
    Ok(())
}

/// A query that is exactly `name=<id>` (routes like `/oob?id={id}`).
fn is_id_query(query: &str, id: &str) -> bool {
    query.split_once('=').is_some_and(|(name, value)| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            && value == id
    })
}

fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        // [v6]:port
        return rest.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'%'));
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{PolicyError, check_form, check_url};
    use crate::{Namespace, PendingId};

    fn ns(s: &str) -> Namespace {
        Namespace::new(s).unwrap()
    }

    #[test]
    fn plain_callback_urls_pass() {
        let id = PendingId::random();
        let alice = ns("alice@example.org");
        for url in [
            format!("https://mcp.example.com/oob/key/{id}"),
            format!("https://mcp.example.com:8443/oob/{id}/form"),
            format!("https://mcp.example.com/oob?id={id}"),
            format!("http://127.0.0.1:3000/oob/key/{id}"),
            format!("http://localhost/oob/key/{id}"),
            format!("http://[::1]:80/oob/key/{id}"),
        ] {
            assert_eq!(check_url(&url, id, &alice), Ok(()), "{url}");
        }
    }

    #[test]
    fn urls_carrying_more_than_the_id_are_refused() {
        let id = PendingId::random();
        let other = PendingId::random();
        let alice = ns("alice");
        let cases = [
            (
                format!("http://mcp.example.com/oob/{id}"),
                PolicyError::Scheme,
            ),
            (
                format!("ftp://mcp.example.com/oob/{id}"),
                PolicyError::Scheme,
            ),
            (format!("/oob/{id}"), PolicyError::Scheme),
            (
                format!("https://u:p@mcp.example.com/oob/{id}"),
                PolicyError::Credentials,
            ),
            (
                format!("https://mcp.example.com/oob/{id}?ns=x"),
                PolicyError::QueryOrFragment,
            ),
            (
                format!("https://mcp.example.com/oob/{id}#k"),
                PolicyError::QueryOrFragment,
            ),
            (
                format!("https://mcp.example.com/oob?id={id}&ns=a"),
                PolicyError::QueryOrFragment,
            ),
            (
                format!("https://mcp.example.com/{id}?id={id}"),
                PolicyError::Id,
            ),
            (
                format!("https://mcp.example.com/oob/{other}"),
                PolicyError::Id,
            ),
            (
                format!("https://mcp.example.com/{id}/{id}"),
                PolicyError::Id,
            ),
            (
                format!("https://mcp.example.com/alice/{id}"),
                PolicyError::Namespace,
            ),
            (
                format!("https://alice.mcp.example.com/{id}"),
                PolicyError::Namespace,
            ),
            (
                format!("https://mcp.example.com/%61lice/{id}"),
                PolicyError::Namespace,
            ),
            (
                format!("https://mcp.example.com/{}/{id}", "x".repeat(80)),
                PolicyError::Payload,
            ),
            (
                format!("https://mcp.example.com/{id}/{}", "a/".repeat(1100)),
                PolicyError::Payload,
            ),
        ];
        for (url, want) in cases {
            assert_eq!(check_url(&url, id, &alice), Err(want), "{url}");
        }
        let long_ns = ns("tenant-4711");
        let url = format!("https://mcp.example.com/oob/x-tenant-4711-y/{id}");
        assert_eq!(check_url(&url, id, &long_ns), Err(PolicyError::Namespace));
    }

    #[test]
    fn form_mode_must_not_mention_a_pending() {
        let id = PendingId::random();
        let form = json!({
            "mode": "form",
            "message": format!("Open https://mcp.example.com/oob/{id} and paste the code"),
            "requestedSchema": {"type": "object", "properties": {}}
        });
        assert_eq!(check_form(&form, [id]), Err(PolicyError::FormMode));
        let legacy = json!({"message": "x", "requestedSchema": {"properties": {"d": {"default": id.simple_hex()}}}});
        assert_eq!(check_form(&legacy, [id]), Err(PolicyError::FormMode));
        let harmless = json!({"mode": "form", "message": "Your name?", "requestedSchema": {}});
        assert_eq!(check_form(&harmless, [id]), Ok(()));
        let url = json!({"mode": "url", "url": format!("https://x.example/{id}"), "message": "m", "elicitationId": id.to_string()});
        assert_eq!(check_form(&url, [id]), Ok(()));
    }
}
