//! Support for the soak binary: per-operation latency figures and a store wrapper that
//! injects latency.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use oob::namespace::Namespace;
use oob::state::CancelReason;
use oob::store::{
    CreateError, Created, Dedup, Limits, NewRecord, Record, Store, StoreError, Subscription,
    TransitionError, Wake,
};
use oob::time::Timestamp;
use oob::{NamespaceToken, PendingId};

/// Latencies and failures per operation name.
#[derive(Debug, Default)]
pub struct Ops {
    inner: Mutex<BTreeMap<&'static str, (Vec<Duration>, u64)>>,
}

impl Ops {
    /// Records one operation.
    pub fn record(&self, op: &'static str, took: Duration, ok: bool) {
        let mut m = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let e = m.entry(op).or_default();
        e.0.push(took);
        if !ok {
            e.1 += 1;
        }
    }

    /// One line per operation: count, rate over `elapsed`, failures, p50 and p99.
    #[must_use]
    pub fn report(&self, elapsed: Duration) -> String {
        let mut m = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        for (op, (lat, failed)) in m.iter_mut() {
            lat.sort_unstable();
            let q = |p: usize| lat.get(lat.len().saturating_sub(1) * p / 100).copied();
            let _ = writeln!(
                out,
                "  {op:<16} {:>8} ops {:>9.0}/s  failed {failed:>5}  p50 {:>10?}  p99 {:>10?}",
                lat.len(),
                lat.len() as f64 / elapsed.as_secs_f64(),
                q(50).unwrap_or_default(),
                q(99).unwrap_or_default(),
            );
        }
        out.trim_end().to_owned()
    }
}

/// A store that sleeps `delay` before every operation: a slow disk or a far network.
#[derive(Debug, Clone)]
pub struct SlowStore<S> {
    inner: S,
    delay: Duration,
}

impl<S> SlowStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, delay: Duration) -> Self {
        Self { inner, delay }
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
        tokio::time::sleep(self.delay).await;
        self.inner.create(new, limits, dedup, now).await
    }

    async fn get(&self, id: PendingId, now: Timestamp) -> Result<Option<Record<T>>, StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.get(id, now).await
    }

    async fn complete(
        &self,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        tokio::time::sleep(self.delay).await;
        self.inner.complete(id, expect, now, wake).await
    }

    async fn wake(&self, record: &Record<T>) -> Result<(), StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.wake(record).await
    }

    async fn cancel(
        &self,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> Result<Record<T>, TransitionError> {
        tokio::time::sleep(self.delay).await;
        self.inner.cancel(id, reason, expect, now).await
    }

    async fn list_namespace(
        &self,
        namespace: &NamespaceToken<'_>,
        now: Timestamp,
    ) -> Result<Vec<Record<T>>, StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.list_namespace(namespace, now).await
    }

    async fn clear_namespace(&self, namespace: &NamespaceToken<'_>) -> Result<usize, StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.clear_namespace(namespace).await
    }

    async fn purge(&self, now: Timestamp) -> Result<usize, StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.purge(now).await
    }

    async fn subscribe(&self, id: PendingId) -> Result<Subscription<T>, StoreError> {
        tokio::time::sleep(self.delay).await;
        self.inner.subscribe(id).await
    }
}
