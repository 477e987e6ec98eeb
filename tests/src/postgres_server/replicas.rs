//! [`Replicas`]: two stores on one schema used as one, for the conformance suite.

use std::sync::{Arc, Mutex, PoisonError};

use oob::PendingId;
use oob::namespace::Namespace;
use oob::state::CancelReason;
use oob::store::NamespaceScope;
use oob::store::{
    CreateError, Created, Dedup, Limits, NewRecord, Record, Store, StoreError, Subscription,
    TransitionError, Wake,
};
use oob::time::Timestamp;

use crate::DeviceCode;

/// Two replicas of one store (two stores on two pools, one schema). The reads and
/// subscriptions of an id go to one replica (its reader, as a waiter reads and subscribes
/// through its own manager's store) and its transitions and wake-ups to the other, so every
/// waiter is woken through `LISTEN`/`NOTIFY` by a completion on the other replica; creates,
/// lists, clears and purges go to each replica in turn, so racing creates are spread over
/// two pools.
#[derive(Debug, Clone)]
pub struct Replicas<S> {
    stores: [S; 2],
    next: Arc<Mutex<usize>>,
}

impl<S> Replicas<S> {
    /// The two replicas.
    #[must_use]
    pub fn new(a: S, b: S) -> Self {
        Self {
            stores: [a, b],
            next: Arc::default(),
        }
    }

    fn pick(&self) -> &S {
        let mut n = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        *n = (*n + 1) % 2;
        &self.stores[*n]
    }

    fn side(id: PendingId) -> usize {
        usize::from(id.to_string().bytes().last().unwrap_or(0) % 2)
    }

    /// The replica that reads and subscribes to `id`.
    fn reader(&self, id: PendingId) -> &S {
        &self.stores[Self::side(id)]
    }

    /// The replica that transitions `id` (the other one).
    fn writer(&self, id: PendingId) -> &S {
        &self.stores[1 - Self::side(id)]
    }
}

impl<S: Store<DeviceCode>> Store<DeviceCode> for Replicas<S> {
    fn name(&self) -> &'static str {
        self.stores[0].name()
    }

    fn retention(&self) -> std::time::Duration {
        self.stores[0].retention()
    }

    async fn create(
        &self,
        new: &NewRecord<DeviceCode>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> Result<Created<DeviceCode>, CreateError> {
        self.pick().create(new, limits, dedup, now).await
    }

    async fn get(
        &self,
        id: PendingId,
        now: Timestamp,
    ) -> Result<Option<Record<DeviceCode>>, StoreError> {
        self.reader(id).get(id, now).await
    }

    async fn complete(
        &self,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<DeviceCode>, TransitionError> {
        self.writer(id).complete(id, expect, now, wake).await
    }

    async fn wake(&self, record: &Record<DeviceCode>) -> Result<(), StoreError> {
        self.writer(record.id).wake(record).await
    }

    async fn cancel(
        &self,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> Result<Record<DeviceCode>, TransitionError> {
        self.writer(id).cancel(id, reason, expect, now).await
    }

    async fn list_namespace(
        &self,
        namespace: NamespaceScope<'_>,
        now: Timestamp,
    ) -> Result<Vec<Record<DeviceCode>>, StoreError> {
        self.pick().list_namespace(namespace, now).await
    }

    async fn clear_namespace(&self, namespace: NamespaceScope<'_>) -> Result<usize, StoreError> {
        self.pick().clear_namespace(namespace).await
    }

    async fn purge(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.pick().purge(now).await
    }

    async fn subscribe(&self, id: PendingId) -> Result<Subscription<DeviceCode>, StoreError> {
        self.reader(id).subscribe(id).await
    }
}
