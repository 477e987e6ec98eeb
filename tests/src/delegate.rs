//! One store wrapper for every test that bends a store: [`Delegate`] passes each [`Store`]
//! method on to an inner store, except those its [`Overrides`] replace.
//!
//! A test writes only what differs (a failure on demand, a doctored answer, a count) as an
//! [`Overrides`] implementation; every method it leaves alone forwards unchanged.
//!
//! ```ignore
//! struct FailGet;
//! impl<S: Store<DeviceCode>> Overrides<DeviceCode, S> for FailGet {
//!     async fn get(&self, _inner: &S, _id: PendingId, _now: Timestamp)
//!         -> Result<Option<Record<DeviceCode>>, StoreError> {
//!         Err(StoreError::backend(std::io::Error::other("down")))
//!     }
//! }
//! let store = Delegate::new(MemoryStore::new(), FailGet);
//! ```

use std::future::{Future, ready};

use oob::PendingId;
use oob::namespace::Namespace;
use oob::state::CancelReason;
use oob::store::NamespaceScope;
use oob::store::{
    CreateError, Created, Dedup, Limits, NewRecord, Record, Store, StoreError, Subscription,
    TransitionError, Wake,
};
use oob::time::Timestamp;

/// A store that forwards to `inner` through `over`: each method runs
/// [`Overrides::before`], then the [`Overrides`] method of the same name, whose default
/// calls `inner`. Its [`name`](Store::name) is the inner store's.
#[derive(Debug, Clone, Default)]
pub struct Delegate<S, O> {
    /// The store everything not overridden goes to.
    pub inner: S,
    /// What this wrapper does differently.
    pub over: O,
}

impl<S, O> Delegate<S, O> {
    /// Wraps `inner`, bent by `over`.
    pub fn new(inner: S, over: O) -> Self {
        Self { inner, over }
    }
}

/// What a [`Delegate`] does instead of forwarding. Every method defaults to the inner
/// store's; override the ones a test needs to bend.
pub trait Overrides<T, S: Store<T>>: Send + Sync + 'static {
    /// Runs before every operation (a delay, a count); by default nothing.
    fn before(&self) -> impl Future<Output = ()> + Send {
        ready(())
    }

    /// [`Store::create`].
    fn create(
        &self,
        inner: &S,
        new: &NewRecord<T>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> impl Future<Output = Result<Created<T>, CreateError>> + Send {
        inner.create(new, limits, dedup, now)
    }

    /// [`Store::get`].
    fn get(
        &self,
        inner: &S,
        id: PendingId,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<Record<T>>, StoreError>> + Send {
        inner.get(id, now)
    }

    /// [`Store::complete`].
    fn complete(
        &self,
        inner: &S,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> impl Future<Output = Result<Record<T>, TransitionError>> + Send {
        inner.complete(id, expect, now, wake)
    }

    /// [`Store::wake`].
    fn wake(
        &self,
        inner: &S,
        record: &Record<T>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        inner.wake(record)
    }

    /// [`Store::cancel`].
    fn cancel(
        &self,
        inner: &S,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> impl Future<Output = Result<Record<T>, TransitionError>> + Send {
        inner.cancel(id, reason, expect, now)
    }

    /// [`Store::list_namespace`].
    fn list_namespace(
        &self,
        inner: &S,
        namespace: NamespaceScope<'_>,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<Record<T>>, StoreError>> + Send {
        inner.list_namespace(namespace, now)
    }

    /// [`Store::clear_namespace`].
    fn clear_namespace(
        &self,
        inner: &S,
        namespace: NamespaceScope<'_>,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send {
        inner.clear_namespace(namespace)
    }

    /// [`Store::purge`].
    fn purge(
        &self,
        inner: &S,
        now: Timestamp,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send {
        inner.purge(now)
    }

    /// [`Store::subscribe`].
    fn subscribe(
        &self,
        inner: &S,
        id: PendingId,
    ) -> impl Future<Output = Result<Subscription<T>, StoreError>> + Send {
        inner.subscribe(id)
    }
}

impl<T, S, O> Store<T> for Delegate<S, O>
where
    T: Send + Sync + 'static,
    S: Store<T>,
    O: Overrides<T, S>,
{
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn retention(&self) -> std::time::Duration {
        self.inner.retention()
    }

    async fn create(
        &self,
        new: &NewRecord<T>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> Result<Created<T>, CreateError> {
        self.over.before().await;
        self.over.create(&self.inner, new, limits, dedup, now).await
    }

    async fn get(&self, id: PendingId, now: Timestamp) -> Result<Option<Record<T>>, StoreError> {
        self.over.before().await;
        self.over.get(&self.inner, id, now).await
    }

    async fn complete(
        &self,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        self.over.before().await;
        self.over.complete(&self.inner, id, expect, now, wake).await
    }

    async fn wake(&self, record: &Record<T>) -> Result<(), StoreError> {
        self.over.before().await;
        self.over.wake(&self.inner, record).await
    }

    async fn cancel(
        &self,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> Result<Record<T>, TransitionError> {
        self.over.before().await;
        self.over.cancel(&self.inner, id, reason, expect, now).await
    }

    async fn list_namespace(
        &self,
        namespace: NamespaceScope<'_>,
        now: Timestamp,
    ) -> Result<Vec<Record<T>>, StoreError> {
        self.over.before().await;
        self.over.list_namespace(&self.inner, namespace, now).await
    }

    async fn clear_namespace(&self, namespace: NamespaceScope<'_>) -> Result<usize, StoreError> {
        self.over.before().await;
        self.over.clear_namespace(&self.inner, namespace).await
    }

    async fn purge(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.over.before().await;
        self.over.purge(&self.inner, now).await
    }

    async fn subscribe(&self, id: PendingId) -> Result<Subscription<T>, StoreError> {
        self.over.before().await;
        self.over.subscribe(&self.inner, id).await
    }
}
