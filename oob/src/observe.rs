//! Lifecycle events and metrics: `tracing` events behind the `tracing` feature, `metrics`
//! behind the `metrics` feature, nothing otherwise.
//!
//! Events carry the action, the kind and the id. The namespace appears only as a keyed hash
//! (namespaces are often e-mail addresses), the same on every replica given the same
//! [pseudonym key](crate::ManagerBuilder::pseudonym_key); payloads are never logged. Metric
//! labels are fixed words (kind, event, outcome, store, operation): never a namespace, an
//! id or a payload.

use crate::id::PendingId;
use crate::namespace::Namespace;

/// Whether any subscriber may want `DEBUG` events (two loads, no call).
#[cfg(feature = "tracing")]
#[inline]
fn debug_enabled() -> bool {
    use tracing::level_filters::{LevelFilter, STATIC_MAX_LEVEL};
    tracing::Level::DEBUG <= STATIC_MAX_LEVEL && tracing::Level::DEBUG <= LevelFilter::current()
}

/// Hashes namespaces for logs: with a per-manager random key, or one the service configures
/// (so that every replica writes the same pseudonym for one namespace).
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

    /// A pseudonym key derived from the service's `key` (any length; HMAC-SHA256 under a fixed
    /// label, so the key given here is never the one the pseudonyms are computed with).
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn keyed(key: &[u8]) -> Self {
        #[cfg(feature = "tracing")]
        {
            use hmac::{Hmac, KeyInit, Mac};
            let mut derived = [0u8; 32];
            if let Ok(mut mac) =
                <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(b"oob namespace pseudonym v1")
            {
                mac.update(key);
                derived.copy_from_slice(&mac.finalize().into_bytes());
            }
            Self { key: derived }
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

/// A lifecycle event an interaction counter counts (the `event` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "metrics"), allow(dead_code))]
pub(crate) enum Event {
    Created,
    Joined,
    Completed,
    Cancelled,
    Declined,
    Expired,
}

impl Event {
    #[cfg(feature = "metrics")]
    fn label(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Joined => "joined",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Declined => "declined",
            Self::Expired => "expired",
        }
    }
}

/// Counts `event` for `kind` (`oob_interactions_total`), keeps `oob_interactions_open`
/// (+1 created, -1 when finished), and for a finished one records `open_for`, how long it
/// was open (`oob_time_to_outcome_seconds`, labelled by the outcome).
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
#[inline]
pub(crate) fn interaction(kind: &'static str, event: Event, open_for: std::time::Duration) {
    #[cfg(feature = "metrics")]
    {
        let label = event.label();
        metrics::counter!("oob_interactions_total", "kind" => kind, "event" => label).increment(1);
        match event {
            Event::Created => {
                metrics::gauge!("oob_interactions_open", "kind" => kind).increment(1.0)
            }
            Event::Joined => {}
            Event::Completed | Event::Cancelled | Event::Declined | Event::Expired => {
                metrics::gauge!("oob_interactions_open", "kind" => kind).decrement(1.0);
                metrics::histogram!("oob_time_to_outcome_seconds", "kind" => kind, "outcome" => label)
                    .record(open_for.as_secs_f64());
            }
        }
    }
}

/// Lowers `oob_interactions_open` by `n` open interactions removed by a clear.
#[cfg(feature = "metrics")]
pub(crate) fn removed_open(kind: &'static str, n: usize) {
    #[allow(clippy::cast_precision_loss)]
    metrics::gauge!("oob_interactions_open", "kind" => kind).decrement(n as f64);
}

/// Records one store operation: its latency (`oob_store_operation_seconds`) and, when the
/// store failed (not a refusal such as "already completed"), `oob_store_errors_total`.
#[cfg(feature = "metrics")]
pub(crate) fn store_op(
    store: &'static str,
    op: &'static str,
    elapsed: std::time::Duration,
    failed: bool,
) {
    metrics::histogram!("oob_store_operation_seconds", "store" => store, "op" => op)
        .record(elapsed.as_secs_f64());
    if failed {
        metrics::counter!("oob_store_errors_total", "store" => store, "op" => op).increment(1);
    }
}
