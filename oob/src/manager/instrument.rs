//! Store operations as the manager runs them: in a `tracing` span (feature `tracing`), timed
//! and their failures counted by store and operation (feature `metrics`); and the expiry
//! watch that counts each interaction this process created once when it expires.
//!
//! One place for every store call, so that custom stores are observed like the built-in
//! ones and no store repeats it.

#[cfg(any(feature = "tracing", feature = "metrics"))]
use std::future::Future;

use crate::store::{CreateError, StoreError, TransitionError};

/// Whether an operation's error is a failure of the store, as opposed to an answer (a
/// pending already finished, a capacity bound, another namespace).
#[cfg_attr(not(any(feature = "tracing", feature = "metrics")), allow(dead_code))]
pub(super) trait StoreFailure {
    fn is_store_failure(&self) -> bool;
}

impl StoreFailure for StoreError {
    fn is_store_failure(&self) -> bool {
        true
    }
}

impl StoreFailure for TransitionError {
    fn is_store_failure(&self) -> bool {
        matches!(self, Self::Store(_))
    }
}

impl StoreFailure for CreateError {
    fn is_store_failure(&self) -> bool {
        matches!(self, Self::Store(_))
    }
}

/// Runs the store operation `op` of the store named `store` (see
/// [`Store::name`](crate::Store::name)). Without the `tracing` and `metrics` features this
/// is the future itself.
#[cfg(not(any(feature = "tracing", feature = "metrics")))]
#[inline(always)]
pub(super) fn observed<F>(_store: &'static str, _op: &'static str, fut: F) -> F {
    fut
}

/// Runs the store operation `op` of the store named `store` (see
/// [`Store::name`](crate::Store::name)) in a `oob.store` span, timed, failures counted.
#[cfg(any(feature = "tracing", feature = "metrics"))]
pub(super) async fn observed<F, R, E>(store: &'static str, op: &'static str, fut: F) -> Result<R, E>
where
    F: Future<Output = Result<R, E>>,
    E: StoreFailure,
{
    #[cfg(feature = "metrics")]
    let start = std::time::Instant::now();
    #[cfg(feature = "tracing")]
    let result = {
        use tracing::Instrument;
        fut.instrument(tracing::debug_span!(target: "oob", "oob.store", store, op))
            .await
    };
    #[cfg(not(feature = "tracing"))]
    let result = fut.await;
    let failed = result.as_ref().err().is_some_and(E::is_store_failure);
    #[cfg(feature = "tracing")]
    if failed {
        tracing::warn!(target: "oob", store, op, "oob store operation failed");
    }
    #[cfg(feature = "metrics")]
    crate::observe::store_op(store, op, start.elapsed(), failed);
    result
}

#[cfg(feature = "metrics")]
pub(super) use watch::ExpiryWatch;

#[cfg(feature = "metrics")]
mod watch {
    use std::collections::{BTreeSet, HashMap};
    use std::sync::{Mutex, PoisonError};

    use crate::id::PendingId;
    use crate::time::Timestamp;

    /// The most deadlines one manager watches at once; past it, new interactions are not
    /// watched (their expiry is not counted) until watched ones finish or expire.
    pub(crate) const CAPACITY: usize = 1 << 16;

    /// The deadlines of the open interactions this process created, so that an expiry
    /// (which no call performs: a pending just stops being open) is counted exactly once, by
    /// the process that created it, at its first purge after the deadline. One that
    /// finishes here leaves the watch then, so the watch holds what may still expire.
    #[derive(Debug, Default)]
    pub(crate) struct ExpiryWatch {
        inner: Mutex<Watched>,
    }

    #[derive(Debug, Default)]
    struct Watched {
        by_deadline: BTreeSet<(Timestamp, PendingId)>,
        deadline_of: HashMap<PendingId, Timestamp>,
    }

    impl ExpiryWatch {
        pub(crate) fn watch(&self, id: PendingId, expires_at: Timestamp) {
            let mut w = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            if w.deadline_of.len() < CAPACITY && w.deadline_of.insert(id, expires_at).is_none() {
                w.by_deadline.insert((expires_at, id));
            }
        }

        /// `id` finished in this process: it will not expire.
        pub(crate) fn forget(&self, id: PendingId) {
            let mut w = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(at) = w.deadline_of.remove(&id) {
                w.by_deadline.remove(&(at, id));
            }
        }

        /// The watched interactions whose deadline is at or before `now`, with their
        /// deadlines, no longer watched.
        pub(crate) fn take_due(&self, now: Timestamp) -> Vec<(PendingId, Timestamp)> {
            let mut w = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
            let mut ids = Vec::new();
            while let Some(&(at, id)) = w.by_deadline.first()
                && at <= now
            {
                w.by_deadline.pop_first();
                w.deadline_of.remove(&id);
                ids.push((id, at));
            }
            ids
        }

        /// How many interactions are watched.
        #[cfg(test)]
        pub(crate) fn len(&self) -> usize {
            self.inner
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .deadline_of
                .len()
        }
    }

    #[cfg(test)]
    mod tests {
        use super::{CAPACITY, ExpiryWatch};
        use crate::id::PendingId;
        use crate::time::Timestamp;

        #[test]
        fn finished_interactions_leave_room_for_new_ones() {
            let w = ExpiryWatch::default();
            let at = Timestamp::from_millis(1_000);
            for _ in 0..CAPACITY {
                let id = PendingId::random();
                w.watch(id, at);
                w.forget(id);
            }
            let late = PendingId::random();
            w.watch(late, at);
            assert_eq!(w.len(), 1);
            assert_eq!(w.take_due(at), [(late, at)]);
            assert_eq!(w.len(), 0);
        }
    }
}

/// Counts a finished interaction (completed, cancelled, declined or expired) and how long it
/// was open. An open record counts nothing.
#[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
#[inline]
pub(super) fn finished<T>(kind: &'static str, record: &crate::store::Record<T>) {
    #[cfg(feature = "metrics")]
    {
        use crate::observe::Event;
        use crate::state::CancelReason;
        use crate::store::RecordState;
        let (event, at) = match record.state {
            RecordState::Open => return,
            RecordState::Completed { at } => (Event::Completed, at),
            RecordState::Cancelled {
                at,
                reason: CancelReason::Cancelled,
            } => (Event::Cancelled, at),
            RecordState::Cancelled {
                at,
                reason: CancelReason::Declined,
            } => (Event::Declined, at),
            RecordState::Expired { at } => (Event::Expired, at),
        };
        crate::observe::interaction(kind, event, record.created_at.until(at));
    }
}
