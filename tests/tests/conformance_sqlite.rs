//! The store conformance suite against [`SqliteStore`], a fresh temp-file database per test.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use oob::PendingId;
use oob::namespace::Namespace;
use oob::state::CancelReason;
use oob::store::NamespaceScope;
use oob::store::{
    CreateError, Created, Dedup, Limits, NewRecord, Record, SqliteStore, Store, StoreError,
    Subscription, TransitionError, Wake,
};
use oob::time::Timestamp;
use oob_tests::DeviceCode;
use oob_tests::sqlite_file::TempDb;

/// Deletes the database files when the last handle goes.
/// A [`SqliteStore`] on a temp file that is deleted with the store.
#[derive(Debug, Clone)]
struct TempStore {
    store: SqliteStore<DeviceCode>,
    _file: Arc<TempDb>,
}

async fn make(retention: Duration) -> TempStore {
    let file = Arc::new(TempDb::new("conformance"));
    let store = SqliteStore::open(file.path())
        .expect("open sqlite")
        .with_retention(retention);
    TempStore { store, _file: file }
}

oob_tests::store_conformance!(make);

impl Store<DeviceCode> for TempStore {
    fn retention(&self) -> std::time::Duration {
        Store::retention(&self.store)
    }

    fn create(
        &self,
        new: &NewRecord<DeviceCode>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> impl Future<Output = Result<Created<DeviceCode>, CreateError>> + Send {
        self.store.create(new, limits, dedup, now)
    }

    fn get(
        &self,
        id: PendingId,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<Record<DeviceCode>>, StoreError>> + Send {
        self.store.get(id, now)
    }

    fn complete(
        &self,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> impl Future<Output = Result<Record<DeviceCode>, TransitionError>> + Send {
        self.store.complete(id, expect, now, wake)
    }

    fn wake(
        &self,
        record: &Record<DeviceCode>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.store.wake(record)
    }

    fn cancel(
        &self,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> impl Future<Output = Result<Record<DeviceCode>, TransitionError>> + Send {
        self.store.cancel(id, reason, expect, now)
    }

    fn list_namespace(
        &self,
        namespace: NamespaceScope<'_>,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<Record<DeviceCode>>, StoreError>> + Send {
        self.store.list_namespace(namespace, now)
    }

    fn clear_namespace(
        &self,
        namespace: NamespaceScope<'_>,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send {
        self.store.clear_namespace(namespace)
    }

    fn purge(&self, now: Timestamp) -> impl Future<Output = Result<usize, StoreError>> + Send {
        self.store.purge(now)
    }

    fn subscribe(
        &self,
        id: PendingId,
    ) -> impl Future<Output = Result<Subscription<DeviceCode>, StoreError>> + Send {
        self.store.subscribe(id)
    }
}

/// The in-memory variant passes the same basic round trip.
#[tokio::test]
async fn in_memory_database_works() {
    let store = SqliteStore::<DeviceCode>::open_in_memory().expect("open");
    oob_tests::conformance::complete_is_single_and_final(store.clone()).await;
    oob_tests::conformance::create_or_join_joins_the_same_key_only(store).await;
}
