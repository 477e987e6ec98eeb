//! The OAuth `state` of a consent: the pending's id and a tag that only this service can
//! compute, so a callback that names a pending by its id alone (which the MCP client, the
//! model and anyone shown the consent link have seen) is refused.
//!
//! The tag is an HMAC-SHA256, keyed by the pending's PKCE verifier (a secret that never
//! leaves the service: the provider sees only its SHA-256 challenge), of the pending's id.
//! Without it, a link to `…/callback?state=<id>&error=access_denied` opened in the owner's
//! browser would decline the owner's consent, and `…&code=<a code for the attacker's own
//! account>` would store the attacker's tokens under the owner's namespace wherever the
//! provider does not enforce PKCE on a code issued without a challenge.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::consent::Consent;
use crate::id::PendingId;

/// The tag of `id` under `consent`'s verifier.
fn tag(consent: &Consent, id: PendingId) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(consent.verifier().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(b"oob oauth state v1\0");
    mac.update(id.to_string().as_bytes());
    mac.finalize().into_bytes().into()
}

/// The `state` of the authorization request for pending `id` holding `consent`:
/// `{id}.{tag}`.
pub(super) fn state(consent: &Consent, id: PendingId) -> String {
    format!("{id}.{}", URL_SAFE_NO_PAD.encode(tag(consent, id)))
}

/// A `state` the callback brought back, split: the pending id it names and its tag (not yet
/// checked). `None` when it is not `{id}.{tag}`.
pub(super) fn parse(state: &str) -> Option<(PendingId, &str)> {
    let (id, tag) = state.split_once('.')?;
    Some((id.parse().ok()?, tag))
}

/// Whether `presented` is the tag of `id` under `consent`'s verifier. Constant-time.
pub(super) fn verify(consent: &Consent, id: PendingId, presented: &str) -> bool {
    let expected = tag(consent, id);
    URL_SAFE_NO_PAD
        .decode(presented.as_bytes())
        .is_ok_and(|given| bool::from(expected.as_slice().ct_eq(given.as_slice())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_verifies_only_for_its_pending_and_verifier() {
        let a = Consent::for_tests("a", "verifier-one-0123456789-0123456789-0123456789");
        let b = Consent::for_tests("a", "verifier-two-0123456789-0123456789-0123456789");
        let (id, other) = (PendingId::random(), PendingId::random());
        let s = state(&a, id);
        let (parsed, t) = parse(&s).expect("parses");
        assert_eq!(parsed, id);
        assert!(verify(&a, id, t));
        assert!(!verify(&b, id, t), "another verifier");
        assert!(!verify(&a, other, t), "another pending");
        assert!(!verify(&a, id, ""), "no tag");
        assert!(!verify(&a, id, &t[1..]), "a cut tag");
        assert!(!verify(&a, id, "!!!"), "not base64");
        assert_eq!(parse(&id.to_string()), None, "the bare id is no state");
        assert_eq!(parse("x.y"), None);
    }
}
