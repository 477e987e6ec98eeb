//! The sealed `requestState` of revision 2026-07-28: [`StateKeys`] seals the caller's
//! namespace, the pending ids, the method, a digest of the original params and an expiry
//! with HMAC-SHA256, and opens it again only for the same caller, method and params.
//!
//! This file holds what a state is bound to ([`Binding`]), what an opened one names
//! ([`OpenedState`]) and the errors; `keys` seals and opens.

use std::time::SystemTime;

use serde_json::Value;

use super::canonical::params_digest;
use crate::id::PendingId;
use crate::namespace::Namespace;

mod keys;
#[cfg(test)]
mod tests;

pub use keys::StateKeys;
#[cfg(feature = "rmcp")]
pub(crate) use keys::claimed_kind;

/// The shortest key accepted, in bytes.
pub const MIN_KEY_LEN: usize = 32;
/// The longest `requestState` accepted (anything longer is refused before decoding).
pub const MAX_STATE_LEN: usize = 4096;
/// The most pendings one `requestState` names.
pub const MAX_IDS: usize = 16;

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
/// (digested by [`params_digest`], which ignores what a retry adds). `Debug` prints the
/// method only: the digest is unkeyed, so low-entropy arguments could be guessed back from
/// it, and the namespace is the caller's.
#[derive(Clone)]
pub struct Binding<'a> {
    namespace: &'a Namespace,
    method: &'a str,
    digest: [u8; 32],
}

impl std::fmt::Debug for Binding<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Binding")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
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

/// A verified `requestState`: the pendings it names. `Debug` prints its ids, kind and
/// expiry, not its nonce or scope (a stable keyed hash of the namespace, which would link
/// log lines by user).
#[derive(Clone, PartialEq, Eq)]
pub struct OpenedState {
    ids: Vec<PendingId>,
    expires_at: SystemTime,
    nonce: String,
    kind: Option<String>,
    scope: String,
}

impl std::fmt::Debug for OpenedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedState")
            .field("ids", &self.ids)
            .field("kind", &self.kind)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
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

    /// What it was sealed for, when it was sealed with one: the kind of the pendings it
    /// names, as oob's tool glue seals it (the OAuth glue adds its provider:
    /// `oauth_consent#<provider>`); [`StateKeys::seal`] seals none.
    #[must_use]
    pub fn kind(&self) -> Option<&str> {
        self.kind.as_deref()
    }

    /// An opaque keyed hash of the caller's namespace (the one the state seals; not the
    /// namespace itself), for guards that bound the states of each namespace
    /// ([`StateGuard::consume_for`](crate::mcp::StateGuard::consume_for)).
    #[must_use]
    pub fn scope(&self) -> &str {
        &self.scope
    }
}
