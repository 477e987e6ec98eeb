//! Lifecycle events: `tracing` events behind the `tracing` feature, nothing otherwise.
//!
//! Events carry the action, the kind and the id. The namespace appears only as a keyed hash
//! (namespaces are often e-mail addresses); payloads are never logged.

use crate::id::PendingId;
use crate::namespace::Namespace;

/// Whether any subscriber may want `DEBUG` events (two loads, no call).
#[cfg(feature = "tracing")]
#[inline]
fn debug_enabled() -> bool {
    use tracing::level_filters::{LevelFilter, STATIC_MAX_LEVEL};
    tracing::Level::DEBUG <= STATIC_MAX_LEVEL && tracing::Level::DEBUG <= LevelFilter::current()
}

/// Hashes namespaces for logs with a per-manager random key.
#[derive(Clone)]
pub(crate) struct LogKey {
    #[cfg(feature = "tracing")]
    key: [u8; 32],
}

impl std::fmt::Debug for LogKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogKey(..)")
    }
}

impl LogKey {
    pub(crate) fn random() -> Self {
        #[cfg(feature = "tracing")]
        {
            let mut key = [0u8; 32];
            key[..16].copy_from_slice(PendingId::random().as_bytes());
            key[16..].copy_from_slice(PendingId::random().as_bytes());
            Self { key }
        }
        #[cfg(not(feature = "tracing"))]
        Self {}
    }

    /// A short keyed hash of the namespace (16 hex digits of HMAC-SHA256).
    #[cfg(feature = "tracing")]
    pub(crate) fn hash(&self, ns: &Namespace) -> String {
        use hmac::{Hmac, KeyInit, Mac};
        let Ok(mut mac) = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&self.key) else {
            return String::new();
        };
        mac.update(ns.as_str().as_bytes());
        let d = mac.finalize().into_bytes();
        d[..8].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Emits one lifecycle event.
    ///
    /// Inline, only the level check: the event itself is built out of line (and marked
    /// cold), so its formatting code stays off the hot paths.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    #[inline]
    pub(crate) fn event(
        &self,
        action: &'static str,
        kind: &'static str,
        id: PendingId,
        ns: &Namespace,
    ) {
        #[cfg(feature = "tracing")]
        if debug_enabled() {
            self.emit(action, kind, id, ns);
        }
    }

    #[cfg(feature = "tracing")]
    #[cold]
    #[inline(never)]
    fn emit(&self, action: &'static str, kind: &'static str, id: PendingId, ns: &Namespace) {
        tracing::debug!(target: "oob", action, kind, id = %id, ns = %self.hash(ns), "oob {action}");
    }

    /// Emits one event for a bulk action (clear, purge).
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    #[inline]
    pub(crate) fn bulk(
        &self,
        action: &'static str,
        kind: &'static str,
        ns: Option<&Namespace>,
        count: usize,
    ) {
        #[cfg(feature = "tracing")]
        match ns {
            Some(ns) => {
                tracing::debug!(target: "oob", action, kind, count, ns = %self.hash(ns), "oob {action}")
            }
            None => tracing::debug!(target: "oob", action, kind, count, "oob {action}"),
        }
    }
}
