//! A store wrapper that injects latency (a slow disk or a far network), varying per call.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use oob::namespace::Namespace;
use oob::state::CancelReason;
use oob::store::{
    CreateError, Created, Dedup, Limits, NewRecord, Record, Store, StoreError, Subscription,
    TransitionError, Wake,
};
use oob::time::Timestamp;
use oob::{NamespaceToken, PendingId};

/// A store that sleeps before every operation: in turn ½, 1, 1½ and 2 times `delay`.
#[derive(Debug, Clone)]
pub struct SlowStore<S> {
    inner: S,
    delay: Duration,
    calls: Arc<AtomicU64>,
}

impl<S> SlowStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, delay: Duration) -> Self {
        Self {
            inner,
            delay,
            calls: Arc::new(AtomicU64::new(0)),
        }
    }

    async fn pause(&self) {
        let n = self.calls.fetch_add(1, Ordering::Relaxed) % 4 + 1;
        tokio::time::sleep(self.delay * u32::try_from(n).unwrap_or(1) / 2).await;
    }
}

impl<T, S> Store<T> for SlowStore<S>
where
    S: Store<T>,
    T: Send + Sync + 'static,
{
    async fn create(
        &self,
        new: &NewRecord<T>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> Result<Created<T>, CreateError> {
        self.pause().await;
        self.inner.create(new, limits, dedup, now).await
    }

    async fn get(&self, id: PendingId, now: Timestamp) -> Result<Option<Record<T>>, StoreError> {
        self.pause().await;
        self.inner.get(id, now).await
    }

    async fn complete(
        &self,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        self.pause().await;
        self.inner.complete(id, expect, now, wake).await
    }

    async fn wake(&self, record: &Record<T>) -> Result<(), StoreError> {
        self.pause().await;
        self.inner.wake(record).await
    }

    async fn cancel(
        &self,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> Result<Record<T>, TransitionError> {
        self.pause().await;
        self.inner.cancel(id, reason, expect, now).await
    }

    async fn list_namespace(
        &self,
        namespace: &NamespaceToken<'_>,
        now: Timestamp,
    ) -> Result<Vec<Record<T>>, StoreError> {
        self.pause().await;
        self.inner.list_namespace(namespace, now).await
    }

    async fn clear_namespace(&self, namespace: &NamespaceToken<'_>) -> Result<usize, StoreError> {
        self.pause().await;
        self.inner.clear_namespace(namespace).await
    }

    async fn purge(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.pause().await;
        self.inner.purge(now).await
    }

    async fn subscribe(&self, id: PendingId) -> Result<Subscription<T>, StoreError> {
        self.pause().await;
        self.inner.subscribe(id).await
    }
}
