//! The list yardstick: a store keeping each namespace's records in a plain `Vec`, found by
//! the number ending the bench's namespace names (`user-N`): no map, no state, no checks.
//! Its list clones the namespace's records (a reference-count increment on each one's
//! namespace and body): the least work a store handing out shared records can do, so what
//! its list costs beyond a small store is what memory alone costs (the cache misses on
//! bodies spread over a large heap). Driven through the same `Manager` as the store under
//! test; only create and list do anything.

use std::sync::{Mutex, PoisonError};

use oob::PendingId;
use oob::namespace::Namespace;
use oob::state::CancelReason;
use oob::store::NamespaceScope;
use oob::store::{
    CreateError, Created, Dedup, Limits, NewRecord, Record, Store, StoreError, Subscription,
    TransitionError, Wake,
};
use oob::time::Timestamp;

/// Records in one `Vec` per namespace `user-N`, at index `N`.
#[derive(Debug)]
pub struct VecStore<T> {
    by_ns: Mutex<Vec<Vec<Record<T>>>>,
}

impl<T> VecStore<T> {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            by_ns: Mutex::new(Vec::new()),
        }
    }
}

/// `N` of the namespace `user-N` (0 for any other namespace).
fn number(namespace: &Namespace) -> usize {
    let s = namespace.as_str();
    s.rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

impl<T: Send + Sync + 'static> Store<T> for VecStore<T> {
    fn retention(&self) -> std::time::Duration {
        oob::store::DEFAULT_RETENTION
    }

    async fn create(
        &self,
        new: &NewRecord<T>,
        _limits: Limits,
        _dedup: Dedup,
        _now: Timestamp,
    ) -> Result<Created<T>, CreateError> {
        let r = new.record();
        let n = number(&r.namespace);
        let mut by_ns = self.by_ns.lock().unwrap_or_else(PoisonError::into_inner);
        if by_ns.len() <= n {
            by_ns.resize_with(n + 1, Vec::new);
        }
        by_ns[n].push(r.clone());
        Ok(Created::Inserted)
    }

    async fn get(&self, _id: PendingId, _now: Timestamp) -> Result<Option<Record<T>>, StoreError> {
        Ok(None)
    }

    async fn complete(
        &self,
        _id: PendingId,
        _expect: Option<&Namespace>,
        _now: Timestamp,
        _wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        Err(TransitionError::NotFound)
    }

    async fn wake(&self, _record: &Record<T>) -> Result<(), StoreError> {
        Ok(())
    }

    async fn cancel(
        &self,
        _id: PendingId,
        _reason: CancelReason,
        _expect: Option<&Namespace>,
        _now: Timestamp,
    ) -> Result<Record<T>, TransitionError> {
        Err(TransitionError::NotFound)
    }

    async fn list_namespace(
        &self,
        token: NamespaceScope<'_>,
        _now: Timestamp,
    ) -> Result<Vec<Record<T>>, StoreError> {
        let by_ns = self.by_ns.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(by_ns
            .get(number(token.namespace()))
            .cloned()
            .unwrap_or_default())
    }

    async fn clear_namespace(&self, _token: NamespaceScope<'_>) -> Result<usize, StoreError> {
        Ok(0)
    }

    async fn purge(&self, _now: Timestamp) -> Result<usize, StoreError> {
        Ok(0)
    }

    async fn subscribe(&self, id: PendingId) -> Result<Subscription<T>, StoreError> {
        Ok(Subscription::never(id))
    }
}
