//! Anti-forgery for interaction forms: [`AntiForgery`] tokens and the same-origin check.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use http::request::Parts;
use http::{Method, header};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::extract::Interaction;
use super::rejection::{InteractionRejection, RejectionKind};

/// Issues and verifies anti-forgery tokens for interaction forms: an HMAC-SHA256, under a
/// server key, of the pending id and the browser user (namespace and session id) the
/// [`Interaction`] was checked against. A token copied from one user's form, or from
/// another pending's, does not verify; a cross-site page cannot read one.
///
/// Put [`token`](Self::token) in a hidden field named [`FIELD`](Self::FIELD) of the form
/// and [`verify`](Self::verify) it in the POST handler before completing. (The extractor
/// itself already refuses unsafe requests a browser marks cross-site: see
/// [`check_same_origin`].) With several replicas, give them one key with
/// [`from_key`](Self::from_key).
///
/// ```
/// use oob::http::{AntiForgery, ExtensionUser, Interaction};
/// # #[derive(Clone, oob::OobPayload)] #[oob(kind = "k", route = "/cb/{id}")] struct ApiKey;
/// fn form(forms: &AntiForgery, ix: &Interaction<ApiKey, ExtensionUser>) -> String {
///     format!(
///         "<form method=post><input type=hidden name={} value={}>...</form>",
///         AntiForgery::FIELD,
///         forms.token(ix),
///     )
/// }
/// ```
#[derive(Clone)]
pub struct AntiForgery {
    key: [u8; 32],
}

impl fmt::Debug for AntiForgery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AntiForgery(..)")
    }
}

/// The operating system had no randomness to give for a new [`AntiForgery`] key.
#[derive(Debug, thiserror::Error)]
#[error("no randomness for the anti-forgery key: {0}")]
pub struct KeyError(getrandom::Error);

impl AntiForgery {
    /// The form field name the token travels in.
    pub const FIELD: &'static str = "oob_csrf";

    /// A fresh random key (tokens do not survive a restart, nor verify on another replica).
    pub fn generate() -> Result<Self, KeyError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).map_err(KeyError)?;
        Ok(Self { key })
    }

    /// A key shared by the replicas of a service (32 random bytes from your secret store).
    #[must_use]
    pub fn from_key(key: [u8; 32]) -> Self {
        Self { key }
    }

    fn mac<T, U, L>(&self, ix: &Interaction<T, U, L>) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(b"oob anti-forgery v1\0");
        mac.update(ix.id().to_string().as_bytes());
        match ix.user() {
            Some(user) => {
                mac.update(b"\0user\0");
                mac.update(user.namespace().as_str().as_bytes());
                if let Some(session) = user.session() {
                    mac.update(b"\0session\0");
                    mac.update(session.as_bytes());
                }
            }
            None => mac.update(b"\0unchecked"),
        }
        mac.finalize().into_bytes().into()
    }

    /// The token for this interaction's form.
    #[must_use]
    pub fn token<T, U, L>(&self, ix: &Interaction<T, U, L>) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(ix))
    }

    /// Checks the token a form brought back: 403 [`RejectionKind::Forged`] unless it is this
    /// interaction's (same pending, same browser user and session). Constant-time.
    pub fn verify<T, U, L>(
        &self,
        ix: &Interaction<T, U, L>,
        presented: &str,
    ) -> Result<(), InteractionRejection> {
        let expected = self.mac(ix);
        let ok = URL_SAFE_NO_PAD
            .decode(presented.as_bytes())
            .is_ok_and(|given| bool::from(expected.as_slice().ct_eq(given.as_slice())));
        if ok {
            Ok(())
        } else {
            Err(InteractionRejection::new(RejectionKind::Forged))
        }
    }
}

/// Refuses an unsafe request (anything but GET, HEAD, OPTIONS) that a browser says came from
/// another site: `Sec-Fetch-Site` other than `same-origin` or `none` (typed, bookmarked),
/// or, from browsers that do not send it, an `Origin` that is not `http` or `https`, or
/// whose host is not the request's `Host`, or whose scheme is not the request's where the
/// request names one (an absolute URI, HTTP/2's `:scheme`), or `Origin: null`. (Behind a
/// proxy that ends TLS the scheme is not known here: an `http://` page of the same host
/// then passes this check, and [`AntiForgery`] still refuses its post.) Requests with
/// neither header (not from a browser) pass:
/// they carry no ambient cookies to abuse, and [`AntiForgery`] still applies. 403
/// [`RejectionKind::CrossSite`]. Every [`Interaction`] extractor runs this.
pub fn check_same_origin(parts: &Parts) -> Result<(), InteractionRejection> {
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let refuse = || Err(InteractionRejection::new(RejectionKind::CrossSite));
    if let Some(site) = parts.headers.get("sec-fetch-site") {
        return match site.as_bytes() {
            b"same-origin" | b"none" => Ok(()),
            _ => refuse(),
        };
    }
    let Some(origin) = parts.headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let Some((scheme, origin_host)) = origin.to_str().ok().and_then(|o| o.split_once("://")) else {
        return refuse();
    };
    let web = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    let same_scheme = parts
        .uri
        .scheme_str()
        .is_none_or(|s| s.eq_ignore_ascii_case(scheme));
    if !web || !same_scheme {
        return refuse();
    }
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| parts.uri.authority().map(http::uri::Authority::as_str));
    match host {
        Some(h) if origin_host.eq_ignore_ascii_case(h) => Ok(()),
        _ => refuse(),
    }
}

#[cfg(test)]
mod tests {
    use http::{Method, Request};

    use super::check_same_origin;

    fn post(uri: &str, origin: &str) -> http::request::Parts {
        let (parts, ()) = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header("host", "svc.example")
            .header("origin", origin)
            .body(())
            .unwrap()
            .into_parts();
        parts
    }

    #[test]
    fn the_origin_must_be_the_requests_scheme_and_host() {
        for (uri, origin, ok) in [
            ("/oob/1", "https://svc.example", true),
            ("/oob/1", "http://svc.example", true),
            ("/oob/1", "HTTPS://SVC.EXAMPLE", true),
            ("/oob/1", "https://evil.example", false),
            ("/oob/1", "ftp://svc.example", false),
            ("/oob/1", "svc.example", false),
            ("/oob/1", "null", false),
            // The request names its scheme (absolute form, HTTP/2): it must match.
            ("https://svc.example/oob/1", "https://svc.example", true),
            ("https://svc.example/oob/1", "http://svc.example", false),
        ] {
            assert_eq!(
                check_same_origin(&post(uri, origin)).is_ok(),
                ok,
                "{uri} from {origin}"
            );
        }
    }
}
