//! Erased stores and vaults: the backend chosen from a string at run time (as a service reads
//! it from configuration), and a layer wrapped around an erased store.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::store::{BoxStore, MemoryStore, SqliteStore, Store};
use oob::vault::{BoxVault, MemoryVault, SqliteVault, Vault};
use oob::{CallbackBase, Manager, Outcome};
use oob_tests::delegate::{Delegate, Overrides};
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
struct Counting(Arc<AtomicUsize>);

impl<S: Store<DeviceCode>> Overrides<DeviceCode, S> for Counting {
    async fn before(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[tokio::test]
async fn a_layer_wraps_an_erased_store_and_is_erased_again() {
    for config in ["memory", "sqlite"] {
        let calls = Arc::new(AtomicUsize::new(0));
        let layered = BoxStore::new(Delegate::new(store_from(config), Counting(calls.clone())));
        // The layer keeps the backend's name (the `store` label of metrics).
        assert_eq!(layered.name(), config);
        let m = manager(layered);
        flow(&m, &vault_from(config)).await;
        // create, subscribe + get (wait), complete, wake, get (read back) at the least.
        assert!(calls.load(Ordering::Relaxed) >= 6, "{config}: {calls:?}");
    }
}
