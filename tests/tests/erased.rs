//! Erased stores and vaults: the backend chosen from a string at run time (as a service reads
//! it from configuration), and a layer wrapped around an erased store.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::state::CancelReason;
use oob::store::{
    BoxStore, CreateError, Created, Dedup, Limits, MemoryStore, NewRecord, Record, SqliteStore,
    Store, StoreError, Subscription, TransitionError, Wake,
};
use oob::time::Timestamp;
use oob::vault::{BoxVault, MemoryVault, SqliteVault, Vault};
use oob::{CallbackBase, Manager, Namespace, NamespaceToken, Outcome, PendingId};
use oob_tests::{DeviceCode, spec, user};

fn store_from(config: &str) -> BoxStore<DeviceCode> {
    match config {
        "memory" => BoxStore::new(MemoryStore::new()),
        "sqlite" => BoxStore::new(SqliteStore::open_in_memory().expect("sqlite store")),
        other => panic!("unknown store {other:?}"),
    }
}

fn vault_from(config: &str) -> BoxVault<String> {
    match config {
        "memory" => BoxVault::new(MemoryVault::new()),
        "sqlite" => BoxVault::new(SqliteVault::open_in_memory().expect("sqlite vault")),
        other => panic!("unknown vault {other:?}"),
    }
}

fn manager<S: Store<DeviceCode>>(store: S) -> Manager<DeviceCode, S, FromVerifiedSubject> {
    Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .build()
}

/// Create, complete with a persist step into the vault, wait, read back: through the erased
/// store and vault, whichever backend the configuration names.
async fn flow<S: Store<DeviceCode>>(
    m: &Manager<DeviceCode, S, FromVerifiedSubject>,
    vault: &BoxVault<String>,
) {
    let alice = Some(user("alice"));
    let open = m.create(&alice, spec()).await.expect("create");
    let id = open.id();
    let waiter = {
        let m = m.clone();
        tokio::spawn(async move { m.wait(id, Duration::from_secs(5)).await })
    };
    let writer = vault.clone();
    let (done, ()) = m
        .complete_with(open, async move |token| {
            writer.put(&token, "github", "gho_1".into()).await
        })
        .await
        .expect("complete_with");
    assert_eq!(done.id(), id);
    assert!(matches!(
        waiter.await.expect("join"),
        Ok(Outcome::Completed(_))
    ));

    let token = m.caller(&alice).expect("caller");
    assert_eq!(
        vault.get(&token, "github").await.unwrap().as_deref(),
        Some("gho_1")
    );
    assert_eq!(vault.keys(&token).await.unwrap(), ["github"]);
    // Another caller's capability opens another namespace: nothing there.
    let bob: Option<VerifiedSubject> = Some(user("bob"));
    assert_eq!(
        vault.get(&m.caller(&bob).unwrap(), "github").await.unwrap(),
        None
    );
    assert!(matches!(
        m.get(id).await.unwrap(),
        oob::AnyPending::Completed(_)
    ));
}

#[tokio::test]
async fn the_backend_is_chosen_from_a_string_at_run_time() {
    for config in ["memory", "sqlite"] {
        let store = store_from(config);
        assert_eq!(store.name(), config);
        let m: Manager<DeviceCode, BoxStore<DeviceCode>, _> = manager(store);
        flow(&m, &vault_from(config)).await;
    }
}

/// A layer over any store: counts the operations it passes on. Written against the public
/// SPI only, as a service's caching or metrics layer would be.
struct Counting<S> {
    inner: S,
    calls: Arc<AtomicUsize>,
}

impl<S> Counting<S> {
    fn tick(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

impl<S: Store<DeviceCode>> Store<DeviceCode> for Counting<S> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    async fn create(
        &self,
        new: &NewRecord<DeviceCode>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> Result<Created<DeviceCode>, CreateError> {
        self.tick();
        self.inner.create(new, limits, dedup, now).await
    }
    async fn get(
        &self,
        id: PendingId,
        now: Timestamp,
    ) -> Result<Option<Record<DeviceCode>>, StoreError> {
        self.tick();
        self.inner.get(id, now).await
    }
    async fn complete(
        &self,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<DeviceCode>, TransitionError> {
        self.tick();
        self.inner.complete(id, expect, now, wake).await
    }
    async fn wake(&self, record: &Record<DeviceCode>) -> Result<(), StoreError> {
        self.tick();
        self.inner.wake(record).await
    }
    async fn cancel(
        &self,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> Result<Record<DeviceCode>, TransitionError> {
        self.tick();
        self.inner.cancel(id, reason, expect, now).await
    }
    async fn list_namespace(
        &self,
        namespace: &NamespaceToken<'_>,
        now: Timestamp,
    ) -> Result<Vec<Record<DeviceCode>>, StoreError> {
        self.tick();
        self.inner.list_namespace(namespace, now).await
    }
    async fn clear_namespace(&self, namespace: &NamespaceToken<'_>) -> Result<usize, StoreError> {
        self.tick();
        self.inner.clear_namespace(namespace).await
    }
    async fn purge(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.tick();
        self.inner.purge(now).await
    }
    async fn subscribe(&self, id: PendingId) -> Result<Subscription<DeviceCode>, StoreError> {
        self.tick();
        self.inner.subscribe(id).await
    }
}

#[tokio::test]
async fn a_layer_wraps_an_erased_store_and_is_erased_again() {
    for config in ["memory", "sqlite"] {
        let calls = Arc::new(AtomicUsize::new(0));
        let layered = BoxStore::new(Counting {
            inner: store_from(config),
            calls: calls.clone(),
        });
        // The layer keeps the backend's name (the `store` label of metrics).
        assert_eq!(layered.name(), config);
        let m = manager(layered);
        flow(&m, &vault_from(config)).await;
        // create, subscribe + get (wait), complete, wake, get (read back) at the least.
        assert!(calls.load(Ordering::Relaxed) >= 6, "{config}: {calls:?}");
    }
}
