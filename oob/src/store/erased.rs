//! [`DynStore`] and [`BoxStore`]: a store chosen at run time, or wrapped in a layer.
//!
//! [`Store`] returns `impl Future`, so `dyn Store<T>` does not exist. [`DynStore`] is the
//! same SPI with boxed futures, implemented for every store; [`BoxStore`] puts any store
//! behind it and is a [`Store`] again, so a [`Manager`](crate::Manager) can run on a backend
//! picked from configuration. The erased form takes exactly what [`Store`] takes: a
//! [`NewRecord`] only the manager makes, a [`NamespaceScope`] only a verified caller's token or
//! the manager makes.
//!
//! ```
//! use oob::store::{BoxStore, MemoryStore};
//! # #[derive(Clone, oob::OobPayload)] #[oob(kind = "k", route = "/cb/{id}")] struct Key;
//! fn store_from(config: &str) -> BoxStore<Key> {
//!     match config {
//!         "memory" => BoxStore::new(MemoryStore::new()),
//!         other => panic!("unknown store {other}"),
//!     }
//! }
//! assert_eq!(oob::Store::name(&store_from("memory")), "memory");
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::{
    CreateError, Created, Dedup, Limits, NamespaceScope, NewRecord, Record, Store, StoreError,
    Subscription, TransitionError, Wake,
};
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::state::CancelReason;
use crate::time::Timestamp;

/// A boxed, sendable future: what every [`DynStore`] method returns.
pub type BoxFuture<'a, O> = Pin<Box<dyn Future<Output = O> + Send + 'a>>;

/// [`Store`] with boxed futures, so it can be a trait object (`dyn DynStore<T>`).
/// Implemented for every [`Store`]; see [`Store`] for what each method must do.
pub trait DynStore<T>: Send + Sync + 'static {
    /// [`Store::name`].
    fn name(&self) -> &'static str;

    /// [`Store::retention`].
    fn retention(&self) -> std::time::Duration;

    /// [`Store::decodes_before_writing`].
    fn decodes_before_writing(&self) -> bool;

    /// [`Store::follows_refusal_order`].
    fn follows_refusal_order(&self) -> bool;

    /// [`Store::create`].
    fn create<'a>(
        &'a self,
        new: &'a NewRecord<T>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Created<T>, CreateError>>;

    /// [`Store::get`].
    fn get(
        &self,
        id: PendingId,
        now: Timestamp,
    ) -> BoxFuture<'_, Result<Option<Record<T>>, StoreError>>;

    /// [`Store::complete`].
    fn complete<'a>(
        &'a self,
        id: PendingId,
        expect: Option<&'a Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> BoxFuture<'a, Result<Record<T>, TransitionError>>;

    /// [`Store::wake`].
    fn wake<'a>(&'a self, record: &'a Record<T>) -> BoxFuture<'a, Result<(), StoreError>>;

    /// [`Store::cancel`].
    fn cancel<'a>(
        &'a self,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&'a Namespace>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Record<T>, TransitionError>>;

    /// [`Store::list_namespace`].
    fn list_namespace<'a>(
        &'a self,
        namespace: NamespaceScope<'a>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<Record<T>>, StoreError>>;

    /// [`Store::clear_namespace`].
    fn clear_namespace<'a>(
        &'a self,
        namespace: NamespaceScope<'a>,
    ) -> BoxFuture<'a, Result<usize, StoreError>>;

    /// [`Store::purge`].
    fn purge(&self, now: Timestamp) -> BoxFuture<'_, Result<usize, StoreError>>;

    /// [`Store::subscribe`].
    fn subscribe(&self, id: PendingId) -> BoxFuture<'_, Result<Subscription<T>, StoreError>>;
}

impl<T: 'static, S: Store<T>> DynStore<T> for S {
    fn name(&self) -> &'static str {
        Store::name(self)
    }

    fn retention(&self) -> std::time::Duration {
        Store::retention(self)
    }

    fn decodes_before_writing(&self) -> bool {
        Store::decodes_before_writing(self)
    }

    fn follows_refusal_order(&self) -> bool {
        Store::follows_refusal_order(self)
    }

    fn create<'a>(
        &'a self,
        new: &'a NewRecord<T>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Created<T>, CreateError>> {
        Box::pin(Store::create(self, new, limits, dedup, now))
    }

    fn get(
        &self,
        id: PendingId,
        now: Timestamp,
    ) -> BoxFuture<'_, Result<Option<Record<T>>, StoreError>> {
        Box::pin(Store::get(self, id, now))
    }

    fn complete<'a>(
        &'a self,
        id: PendingId,
        expect: Option<&'a Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> BoxFuture<'a, Result<Record<T>, TransitionError>> {
        Box::pin(Store::complete(self, id, expect, now, wake))
    }

    fn wake<'a>(&'a self, record: &'a Record<T>) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(Store::wake(self, record))
    }

    fn cancel<'a>(
        &'a self,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&'a Namespace>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Record<T>, TransitionError>> {
        Box::pin(Store::cancel(self, id, reason, expect, now))
    }

    fn list_namespace<'a>(
        &'a self,
        namespace: NamespaceScope<'a>,
        now: Timestamp,
    ) -> BoxFuture<'a, Result<Vec<Record<T>>, StoreError>> {
        Box::pin(Store::list_namespace(self, namespace, now))
    }

    fn clear_namespace<'a>(
        &'a self,
        namespace: NamespaceScope<'a>,
    ) -> BoxFuture<'a, Result<usize, StoreError>> {
        Box::pin(Store::clear_namespace(self, namespace))
    }

    fn purge(&self, now: Timestamp) -> BoxFuture<'_, Result<usize, StoreError>> {
        Box::pin(Store::purge(self, now))
    }

    fn subscribe(&self, id: PendingId) -> BoxFuture<'_, Result<Subscription<T>, StoreError>> {
        Box::pin(Store::subscribe(self, id))
    }
}

/// Any store, behind a [`DynStore`] trait object: a [`Store`] whose backend is chosen at run
/// time. Cloning shares the store.
pub struct BoxStore<T>(Arc<dyn DynStore<T>>);

impl<T: 'static> BoxStore<T> {
    /// Erases `store`.
    pub fn new(store: impl Store<T>) -> Self {
        Self(Arc::new(store))
    }

    /// A store already behind a trait object (e.g. shared with something else).
    pub fn from_arc(store: Arc<dyn DynStore<T>>) -> Self {
        Self(store)
    }
}

impl<T> Clone for BoxStore<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: 'static> std::fmt::Debug for BoxStore<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("BoxStore").field(&self.0.name()).finish()
    }
}

impl<T: Send + Sync + 'static> Store<T> for BoxStore<T> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn retention(&self) -> std::time::Duration {
        self.0.retention()
    }

    fn decodes_before_writing(&self) -> bool {
        self.0.decodes_before_writing()
    }

    fn follows_refusal_order(&self) -> bool {
        self.0.follows_refusal_order()
    }

    async fn create(
        &self,
        new: &NewRecord<T>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> Result<Created<T>, CreateError> {
        self.0.create(new, limits, dedup, now).await
    }

    async fn get(&self, id: PendingId, now: Timestamp) -> Result<Option<Record<T>>, StoreError> {
        self.0.get(id, now).await
    }

    async fn complete(
        &self,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        self.0.complete(id, expect, now, wake).await
    }

    async fn wake(&self, record: &Record<T>) -> Result<(), StoreError> {
        self.0.wake(record).await
    }

    async fn cancel(
        &self,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> Result<Record<T>, TransitionError> {
        self.0.cancel(id, reason, expect, now).await
    }

    async fn list_namespace(
        &self,
        namespace: NamespaceScope<'_>,
        now: Timestamp,
    ) -> Result<Vec<Record<T>>, StoreError> {
        self.0.list_namespace(namespace, now).await
    }

    async fn clear_namespace(&self, namespace: NamespaceScope<'_>) -> Result<usize, StoreError> {
        self.0.clear_namespace(namespace).await
    }

    async fn purge(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.0.purge(now).await
    }

    async fn subscribe(&self, id: PendingId) -> Result<Subscription<T>, StoreError> {
        self.0.subscribe(id).await
    }
}
