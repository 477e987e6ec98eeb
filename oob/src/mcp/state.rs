//! The sealed `requestState` of revision 2026-07-28: [`StateKeys`] seals the caller's
//! namespace, the pending ids, the method, a digest of the original params and an expiry
//! with HMAC-SHA256, and opens it again only for the same caller, method and params.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::canonical::params_digest;
use crate::id::PendingId;
use crate::namespace::Namespace;

type HmacSha256 = Hmac<Sha256>;

/// The shortest key accepted, in bytes.
pub const MIN_KEY_LEN: usize = 32;
/// The longest `requestState` accepted (anything longer is refused before decoding).
pub const MAX_STATE_LEN: usize = 4096;
/// The most pendings one `requestState` names.
pub const MAX_IDS: usize = 16;

const PREFIX: &str = "oob1.";
const VERSION: u8 = 1;
const NS_DOMAIN: &[u8] = b"oob/mcp/request-state/namespace\0";

/// A key shorter than [`MIN_KEY_LEN`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a request-state key must be at least {MIN_KEY_LEN} bytes; this one has {len}")]
pub struct KeyError {
    /// The length given.
    pub len: usize,
}

/// Why a `requestState` was refused. Each check has its own variant; none reveals the
/// sealed contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// Not a `requestState` of this format (or too long, or naming too many pendings).
    #[error("the request state is malformed")]
    Malformed,
    /// No key verifies it: tampered with, forged, or sealed with a retired key.
    #[error("the request state failed verification")]
    Signature,
    /// Its expiry passed.
    #[error("the request state expired")]
    Expired,
    /// It was sealed for another caller.
    #[error("the request state was issued to another caller")]
    Namespace,
    /// It was sealed for another method.
    #[error("the request state was issued for another method")]
    Method,
    /// It was sealed for a request with other params.
    #[error("the request state was issued for a request with other parameters")]
    Params,
}

/// What a `requestState` is bound to: the caller's namespace (derived from the verified
/// request, never from the client's fields), the JSON-RPC method and the request's params
/// (digested by [`params_digest`], which ignores what a retry adds).
#[derive(Debug, Clone)]
pub struct Binding<'a> {
    namespace: &'a Namespace,
    method: &'a str,
    digest: [u8; 32],
}

impl<'a> Binding<'a> {
    /// The binding of a request of `namespace`'s caller.
    #[must_use]
    pub fn new(namespace: &'a Namespace, method: &'a str, params: &Value) -> Self {
        Self {
            namespace,
            method,
            digest: params_digest(params),
        }
    }

    /// The caller's namespace.
    #[must_use]
    pub fn namespace(&self) -> &Namespace {
        self.namespace
    }

    /// The method.
    #[must_use]
    pub fn method(&self) -> &str {
        self.method
    }
}

/// A verified `requestState`: the pendings it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedState {
    ids: Vec<PendingId>,
    expires_at: SystemTime,
    nonce: String,
}

impl OpenedState {
    /// The pendings the state was sealed for, in sealing order.
    #[must_use]
    pub fn ids(&self) -> &[PendingId] {
        &self.ids
    }

    /// When the state stops being accepted.
    #[must_use]
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// A random value unique to this sealing, for servers that enforce single use.
    #[must_use]
    pub fn nonce(&self) -> &str {
        &self.nonce
    }
}

#[derive(Serialize, Deserialize)]
struct Payload {
    v: u8,
    ns: String,
    m: String,
    pd: String,
    ids: Vec<PendingId>,
    exp: u64,
    n: String,
}

struct Key(Box<[u8]>);

impl Key {
    fn new(bytes: Vec<u8>) -> Result<Self, KeyError> {
        if bytes.len() < MIN_KEY_LEN {
            return Err(KeyError { len: bytes.len() });
        }
        Ok(Self(bytes.into_boxed_slice()))
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        // HMAC accepts keys of any length: this cannot fail.
        let Ok(mut mac) = <HmacSha256 as KeyInit>::new_from_slice(&self.0) else {
            return [0; 32];
        };
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }
}

/// The keys that seal and open `requestState`s. The first key seals; every key opens, so a
/// key can be rotated by putting the new one first and keeping the old one until states
/// sealed with it expired.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use oob::mcp::{Binding, StateError, StateKeys};
/// use serde_json::json;
///
/// let keys = StateKeys::new([7u8; 32])?.with_ttl(Duration::from_secs(300));
/// let alice = "alice".parse()?;
/// let params = json!({"name": "list_repos", "arguments": {}});
/// let now = SystemTime::now();
/// let ids = [oob::PendingId::random()];
/// let state = keys.seal(&Binding::new(&alice, "tools/call", &params), &ids, now);
///
/// let opened = keys.open(&state, &Binding::new(&alice, "tools/call", &params), now)?;
/// assert_eq!(opened.ids(), &ids);
///
/// let bob = "bob".parse()?;
/// let err = keys.open(&state, &Binding::new(&bob, "tools/call", &params), now);
/// assert_eq!(err, Err(StateError::Namespace));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct StateKeys {
    keys: Vec<Key>,
    ttl: Duration,
}

impl fmt::Debug for StateKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateKeys")
            .field("keys", &self.keys.len())
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl StateKeys {
    /// How long a sealed state is accepted unless [`with_ttl`](Self::with_ttl) says
    /// otherwise: 10 minutes.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(600);

    /// Keys with one key, which seals and opens. It must be at least [`MIN_KEY_LEN`]
    /// bytes of secret randomness.
    pub fn new(key: impl Into<Vec<u8>>) -> Result<Self, KeyError> {
        Ok(Self {
            keys: vec![Key::new(key.into())?],
            ttl: Self::DEFAULT_TTL,
        })
    }

    /// Adds an older key that still opens states but no longer seals them (key rotation).
    pub fn with_previous_key(mut self, key: impl Into<Vec<u8>>) -> Result<Self, KeyError> {
        self.keys.push(Key::new(key.into())?);
        Ok(self)
    }

    /// How long a sealed state is accepted.
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long a sealed state is accepted.
    #[must_use]
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Seals `ids` for the request `binding` describes, valid until `now` plus the TTL.
    /// The result is base64url text; it is signed, not encrypted, and holds no namespace
    /// (only a keyed hash of it).
    #[must_use]
    pub fn seal(&self, binding: &Binding<'_>, ids: &[PendingId], now: SystemTime) -> String {
        let key = &self.keys[0];
        let payload = Payload {
            v: VERSION,
            ns: URL_SAFE_NO_PAD
                .encode(key.mac(&[NS_DOMAIN, binding.namespace.as_str().as_bytes()])),
            m: binding.method.to_owned(),
            pd: URL_SAFE_NO_PAD.encode(binding.digest),
            ids: ids.to_vec(),
            exp: millis(now)
                .saturating_add(u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX)),
            n: PendingId::random().simple_hex(),
        };
        // Serializing plain strings and numbers cannot fail.
        let json = serde_json::to_vec(&payload).unwrap_or_default();
        let mut token = String::with_capacity(PREFIX.len() + json.len() * 4 / 3 + 48);
        token.push_str(PREFIX);
        token.push_str(&URL_SAFE_NO_PAD.encode(json));
        let tag = key.mac(&[token.as_bytes()]);
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(tag));
        token
    }

    /// Opens a `requestState` echoed by a retrying client: verifies the tag in constant
    /// time with each key, then the expiry, then that the caller, the method and the
    /// params are those it was sealed for.
    pub fn open(
        &self,
        state: &str,
        binding: &Binding<'_>,
        now: SystemTime,
    ) -> Result<OpenedState, StateError> {
        if state.len() > MAX_STATE_LEN {
            return Err(StateError::Malformed);
        }
        let (signed, tag) = state.rsplit_once('.').ok_or(StateError::Malformed)?;
        let body = signed.strip_prefix(PREFIX).ok_or(StateError::Malformed)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| StateError::Malformed)?;
        if tag.len() != 32 {
            return Err(StateError::Malformed);
        }
        // Every key is tried (no early exit on the first match), each in constant time.
        let mut verified = None;
        for key in &self.keys {
            let ok = key.mac(&[signed.as_bytes()]).ct_eq(tag.as_slice());
            if bool::from(ok) && verified.is_none() {
                verified = Some(key);
            }
        }
        let key = verified.ok_or(StateError::Signature)?;
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| StateError::Malformed)?;
        let payload: Payload = serde_json::from_slice(&json).map_err(|_| StateError::Malformed)?;
        if payload.v != VERSION || payload.ids.len() > MAX_IDS {
            return Err(StateError::Malformed);
        }
        if millis(now) >= payload.exp {
            return Err(StateError::Expired);
        }
        let ns =
            URL_SAFE_NO_PAD.encode(key.mac(&[NS_DOMAIN, binding.namespace.as_str().as_bytes()]));
        if !bool::from(ns.as_bytes().ct_eq(payload.ns.as_bytes())) {
            return Err(StateError::Namespace);
        }
        if payload.m != binding.method {
            return Err(StateError::Method);
        }
        let pd = URL_SAFE_NO_PAD.encode(binding.digest);
        if !bool::from(pd.as_bytes().ct_eq(payload.pd.as_bytes())) {
            return Err(StateError::Params);
        }
        Ok(OpenedState {
            ids: payload.ids,
            expires_at: UNIX_EPOCH + Duration::from_millis(payload.exp),
            nonce: payload.n,
        })
    }
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
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
}
