//! The yardstick: a naive store, one `Mutex<HashMap>` from id to record, doing the work of a
//! store's operation and nothing more (no bounds, no dedup, no waiters, no namespace index:
//! listing scans the map). Driven through the same `Manager`, so a ratio against it is the
//! cost of the store under test, and the same on any machine.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use oob::PendingId;
use oob::namespace::Namespace;
use oob::state::CancelReason;
use oob::store::{
    CreateError, Created, Dedup, Limits, NewRecord, Record, RecordState, Store, StoreError,
    Subscription, TransitionError, Wake,
};
use oob::store::{NamespaceScope, lifecycle};
use oob::time::Timestamp;

/// A `Mutex<HashMap<PendingId, Record>>`.
#[derive(Debug)]
pub struct NaiveStore<T> {
    map: Mutex<HashMap<PendingId, Record<T>>>,
    keep: bool,
}

impl<T> NaiveStore<T> {
    /// An empty map; `keep` keeps finished records (a retention window), otherwise a
    /// transition removes its record.
    pub fn new(keep: bool) -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
            keep,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PendingId, Record<T>>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn transition(
        &self,
        id: PendingId,
        to: RecordState,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> Result<Record<T>, TransitionError> {
        let retention = if self.keep {
            oob::store::DEFAULT_RETENTION
        } else {
            std::time::Duration::ZERO
        };
        let mut map = self.lock();
        let r = map.get_mut(&id).ok_or(TransitionError::NotFound)?;
        let in_namespace = expect.is_none_or(|n| *n == r.namespace);
        if let Some(refused) = lifecycle::refusal(r.state_at(now), retention, now, in_namespace) {
            return Err(refused);
        }
        r.state = to;
        if self.keep {
            Ok(r.clone())
        } else {
            map.remove(&id).ok_or(TransitionError::NotFound)
        }
    }
}

impl<T: Send + Sync + 'static> Store<T> for NaiveStore<T> {
    fn retention(&self) -> std::time::Duration {
        if self.keep {
            oob::store::DEFAULT_RETENTION
        } else {
            std::time::Duration::ZERO
        }
    }

    async fn create(
        &self,
        new: &NewRecord<T>,
        _limits: Limits,
        _dedup: Dedup,
        _now: Timestamp,
    ) -> Result<Created<T>, CreateError> {
        let r = new.record();
        let mut map = self.lock();
        if map.contains_key(&r.id) {
            return Err(CreateError::DuplicateId);
        }
        map.insert(r.id, r.clone());
        Ok(Created::Inserted)
    }

    async fn get(&self, id: PendingId, now: Timestamp) -> Result<Option<Record<T>>, StoreError> {
        Ok(self.lock().get(&id).map(|r| {
            let state = r.state_at(now);
            r.clone().with_state(state)
        }))
    }

    async fn complete(
        &self,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        _wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        self.transition(id, RecordState::Completed { at: now }, expect, now)
    }

    async fn wake(&self, _record: &Record<T>) -> Result<(), StoreError> {
        Ok(())
    }

    async fn cancel(
        &self,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> Result<Record<T>, TransitionError> {
        self.transition(id, RecordState::Cancelled { at: now, reason }, expect, now)
    }

    async fn list_namespace(
        &self,
        token: NamespaceScope<'_>,
        now: Timestamp,
    ) -> Result<Vec<Record<T>>, StoreError> {
        Ok(self
            .lock()
            .values()
            .filter(|r| r.namespace == *token.namespace() && r.state_at(now).is_open())
            .cloned()
            .collect())
    }

    async fn clear_namespace(&self, token: NamespaceScope<'_>) -> Result<usize, StoreError> {
        let mut map = self.lock();
        let before = map.len();
        map.retain(|_, r| r.namespace != *token.namespace());
        Ok(before - map.len())
    }

    async fn purge(&self, _now: Timestamp) -> Result<usize, StoreError> {
        Ok(0)
    }

    async fn subscribe(&self, id: PendingId) -> Result<Subscription<T>, StoreError> {
        Ok(Subscription::never(id))
    }
}
