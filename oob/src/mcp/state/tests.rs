//! Tests for [`StateKeys`]: round trip, refusals, rotation.

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

use super::{Binding, KeyError, StateError, StateKeys};
use crate::{Namespace, PendingId};

const K1: [u8; 32] = [1; 32];
const K2: [u8; 32] = [2; 32];

fn ns(s: &str) -> Namespace {
    Namespace::new(s).unwrap()
}

fn params() -> serde_json::Value {
    json!({"name": "list_repos", "arguments": {"org": "acme"}})
}

#[test]
fn round_trip_binds_ids_and_survives_a_retry_s_extra_members() {
    let keys = StateKeys::new(K1).unwrap();
    let alice = ns("alice");
    let ids = [PendingId::random(), PendingId::random()];
    let now = SystemTime::now();
    let state = keys.seal(&Binding::new(&alice, "tools/call", &params()), &ids, now);
    assert!(state.starts_with("oob1."));
    assert!(
        state
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    );
    assert!(!state.contains("alice"));
    let mut retry = params();
    retry["requestState"] = json!(state);
    retry["inputResponses"] = json!({"gh": {"action": "accept"}});
    let opened = keys
        .open(&state, &Binding::new(&alice, "tools/call", &retry), now)
        .unwrap();
    assert_eq!(opened.ids(), &ids);
    assert!(opened.expires_at() > now);
    // Two sealings of the same thing differ (nonce).
    let again = keys.seal(&Binding::new(&alice, "tools/call", &params()), &ids, now);
    assert_ne!(state, again);
}

#[test]
fn short_keys_are_refused() {
    assert_eq!(StateKeys::new([0u8; 31]).unwrap_err(), KeyError { len: 31 });
    assert!(
        StateKeys::new(K1)
            .unwrap()
            .with_previous_key(vec![0u8; 8])
            .is_err()
    );
}

#[test]
fn each_failure_has_its_own_error() {
    let keys = StateKeys::new(K1)
        .unwrap()
        .with_ttl(Duration::from_secs(60));
    let (alice, bob) = (ns("alice"), ns("bob"));
    let now = SystemTime::now();
    let b = Binding::new(&alice, "tools/call", &params());
    let state = keys.seal(&b, &[PendingId::random()], now);

    // Tampered: every single-character change of the payload or tag is refused.
    let mut tampered = 0;
    for i in 5..state.len() {
        let mut bytes = state.clone().into_bytes();
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let s = String::from_utf8(bytes).unwrap();
        if s == state {
            continue;
        }
        let err = keys.open(&s, &b, now).unwrap_err();
        assert!(
            matches!(err, StateError::Signature | StateError::Malformed),
            "{i}: {err:?}"
        );
        tampered += 1;
    }
    assert!(tampered > 100);

    // A payload re-signed with another key (forged) is refused.
    let forged = StateKeys::new([9u8; 32])
        .unwrap()
        .seal(&b, &[PendingId::random()], now);
    assert_eq!(keys.open(&forged, &b, now), Err(StateError::Signature));

    // Payload swapped onto a valid tag.
    let other = keys.seal(&b, &[PendingId::random()], now);
    let (_, tag) = state.rsplit_once('.').unwrap();
    let (body, _) = other.rsplit_once('.').unwrap();
    assert_eq!(
        keys.open(&format!("{body}.{tag}"), &b, now),
        Err(StateError::Signature)
    );

    // Expired at the deadline and after.
    let later = now + Duration::from_secs(60);
    assert_eq!(keys.open(&state, &b, later), Err(StateError::Expired));
    assert!(keys.open(&state, &b, now + Duration::from_secs(59)).is_ok());

    // Another caller, another method, other params.
    let as_bob = Binding::new(&bob, "tools/call", &params());
    assert_eq!(keys.open(&state, &as_bob, now), Err(StateError::Namespace));
    let other_method = Binding::new(&alice, "prompts/get", &params());
    assert_eq!(
        keys.open(&state, &other_method, now),
        Err(StateError::Method)
    );
    let other_params = Binding::new(
        &alice,
        "tools/call",
        &json!({"name": "list_repos", "arguments": {"org": "evil"}}),
    );
    assert_eq!(
        keys.open(&state, &other_params, now),
        Err(StateError::Params)
    );

    // Garbage.
    for junk in [
        "",
        "oob1.",
        "oob1..",
        "x.y",
        "oob1.!!!.AAAA",
        &"A".repeat(5000),
    ] {
        assert_eq!(
            keys.open(junk, &b, now),
            Err(StateError::Malformed),
            "{junk:.20}"
        );
    }
    let short_tag = format!(
        "{}.{}",
        state.rsplit_once('.').unwrap().0,
        URL_SAFE_NO_PAD.encode([0u8; 8])
    );
    assert_eq!(keys.open(&short_tag, &b, now), Err(StateError::Malformed));
}

#[test]
fn rotation_first_key_seals_all_keys_open() {
    let alice = ns("alice");
    let b = Binding::new(&alice, "tools/call", &params());
    let now = SystemTime::now();
    let old = StateKeys::new(K1).unwrap();
    let sealed_old = old.seal(&b, &[PendingId::random()], now);
    let rotated = StateKeys::new(K2).unwrap().with_previous_key(K1).unwrap();
    assert!(rotated.open(&sealed_old, &b, now).is_ok());
    let sealed_new = rotated.seal(&b, &[PendingId::random()], now);
    assert!(rotated.open(&sealed_new, &b, now).is_ok());
    // The old deployment does not know the new key.
    assert_eq!(old.open(&sealed_new, &b, now), Err(StateError::Signature));
    // Retiring K1 retires its states.
    let retired = StateKeys::new(K2).unwrap();
    assert_eq!(
        retired.open(&sealed_old, &b, now),
        Err(StateError::Signature)
    );
    assert!(!format!("{rotated:?}").contains('\u{1}'));
}
