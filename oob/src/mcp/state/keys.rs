//! [`StateKeys`]: sealing a `requestState` with HMAC-SHA256 and opening it again, with key
//! rotation.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::{Binding, KeyError, MAX_IDS, MAX_STATE_LEN, MIN_KEY_LEN, OpenedState, StateError};
use crate::id::PendingId;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "oob1.";
const VERSION: u8 = 1;
const NS_DOMAIN: &[u8] = b"oob/mcp/request-state/namespace\0";

#[derive(Serialize, Deserialize)]
struct Payload {
    v: u8,
    ns: String,
    m: String,
    pd: String,
    ids: Vec<PendingId>,
    exp: u64,
    n: String,
    /// The kind of the pendings, when the sealer said (oob's tool glue does, so that of
    /// several glues asked in one tool call, each resumes only its own states).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    k: Option<String>,
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
    /// (only a keyed hash of it). [`open`](Self::open) refuses a state of more than
    /// [`MAX_IDS`](super::MAX_IDS) ids as malformed: seal at most that many
    /// ([`InputRequired::for_pendings`](crate::mcp::InputRequired::for_pendings) refuses
    /// more).
    #[must_use]
    pub fn seal(&self, binding: &Binding<'_>, ids: &[PendingId], now: SystemTime) -> String {
        self.seal_kind(binding, None, ids, now)
    }

    /// [`seal`](Self::seal), also sealing the pendings' `kind`
    /// ([`OpenedState::kind`]).
    pub(crate) fn seal_kind(
        &self,
        binding: &Binding<'_>,
        kind: Option<&str>,
        ids: &[PendingId],
        now: SystemTime,
    ) -> String {
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
            k: kind.map(str::to_owned),
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
            kind: payload.k,
            scope: payload.ns,
        })
    }
}

/// The kind a well-formed state says it was sealed for, read without verifying it: only to
/// pass over a state another glue sealed (with its own keys), never to act on one. `None`
/// for a state that names no kind or does not parse.
#[cfg(feature = "rmcp")]
pub(crate) fn claimed_kind(state: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Kind {
        k: Option<String>,
    }
    if state.len() > MAX_STATE_LEN {
        return None;
    }
    let (signed, _tag) = state.rsplit_once('.')?;
    let json = URL_SAFE_NO_PAD.decode(signed.strip_prefix(PREFIX)?).ok()?;
    serde_json::from_slice::<Kind>(&json).ok()?.k
}

fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
