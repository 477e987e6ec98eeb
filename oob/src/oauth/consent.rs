//! [`Consent`]: the payload of a consent pending.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The payload of a consent pending: the provider, the scopes asked for and the PKCE
/// verifier (kept server-side until the code exchange). `Debug` prints no verifier.
///
/// Only the flow makes one ([`OAuth::start`](super::OAuth::start)). Decoding one (a record
/// read back from a store) checks that its verifier has RFC 7636's shape (43 to 128
/// characters of `A-Z a-z 0-9 - . _ ~`): a record edited by hand, cut short or written by
/// something else fails to decode, as any undecodable payload does, instead of reaching the
/// PKCE challenge, which would panic on it.
#[derive(Clone, Serialize, Deserialize, crate::OobPayload)]
#[serde(try_from = "Fields")]
#[oob(
    kind = "oauth_consent",
    route = "/oob/oauth/{id}",
    ttl = "10m",
    crate = "crate"
)]
pub struct Consent {
    provider: String,
    scopes: Vec<String>,
    pkce_verifier: String,
}

/// A consent's fields as stored, before the verifier is checked.
#[derive(Deserialize)]
struct Fields {
    provider: String,
    scopes: Vec<String>,
    pkce_verifier: String,
}

/// A stored consent whose PKCE verifier does not have RFC 7636's shape (the message names
/// no part of it).
#[derive(Debug)]
struct BadVerifier;

impl fmt::Display for BadVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a consent's PKCE verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")
    }
}

impl TryFrom<Fields> for Consent {
    type Error = BadVerifier;

    fn try_from(f: Fields) -> Result<Self, BadVerifier> {
        let v = f.pkce_verifier.as_bytes();
        let shaped = (43..=128).contains(&v.len())
            && v.iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if !shaped {
            return Err(BadVerifier);
        }
        Ok(Self::new(f.provider, f.scopes, f.pkce_verifier))
    }
}

impl fmt::Debug for Consent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consent")
            .field("provider", &self.provider)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl Consent {
    /// A consent (the flow's; `pkce_verifier` from `oauth2`'s generator).
    pub(super) fn new(provider: String, scopes: Vec<String>, pkce_verifier: String) -> Self {
        Self {
            provider,
            scopes,
            pkce_verifier,
        }
    }

    /// The provider's name.
    #[must_use]
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The scopes asked for.
    #[must_use]
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The PKCE verifier (a secret: the key of the `state` tag, see `state.rs`).
    pub(super) fn verifier(&self) -> &str {
        &self.pkce_verifier
    }

    #[cfg(test)]
    pub(super) fn for_tests(provider: &str, verifier: &str) -> Self {
        Self::new(provider.to_owned(), Vec::new(), verifier.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::Consent;

    fn decode(verifier: &str) -> Result<Consent, serde_json::Error> {
        serde_json::from_value(serde_json::json!({
            "provider": "p", "scopes": ["s"], "pkce_verifier": verifier,
        }))
    }

    #[test]
    fn a_stored_verifier_must_have_the_rfc_shape() {
        let ok = "a".repeat(43);
        assert_eq!(decode(&ok).expect("43 characters").verifier(), ok);
        assert!(decode(&"Az09-._~".repeat(16)).is_ok(), "128 characters");
        for bad in [
            "",
            "short",
            &"a".repeat(42),
            &"a".repeat(129),
            &format!("{}/", "a".repeat(43)),
        ] {
            let e = decode(bad).expect_err("refused");
            assert!(!e.to_string().contains(bad) || bad.is_empty(), "{e}");
        }
        let round = decode(&ok).expect("valid");
        let again: Consent =
            serde_json::from_str(&serde_json::to_string(&round).expect("encode")).expect("decode");
        assert_eq!(again.verifier(), ok);
    }
}
