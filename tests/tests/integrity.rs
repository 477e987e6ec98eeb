//! The integrity key: a store that relabels a pending's namespace on every read (or anyone
//! who rewrites its database) is caught before any persist step gets a token for the other
//! namespace; without the key the same relabelling goes through (why the key exists).

use std::sync::Arc;

use oob::integrity::IntegrityKey;
use oob::provider::FromVerifiedSubject;
use oob::store::{MemoryStore, Record, Store, StoreError, TransitionError, Wake};
use oob::time::Timestamp;
use oob::vault::{MemoryVault, Vault};
use oob::{AnyPending, CallbackBase, Error, Manager, Namespace, PendingId, state::CancelReason};
use oob_tests::delegate::{Delegate, Overrides};
use oob_tests::{DeviceCode, ns, spec, user};

/// Reports every record as alice's, consistently: on reads and transitions.
struct Relabel {
    to: Namespace,
}

impl Relabel {
    fn relabel(&self, r: Record<DeviceCode>) -> Record<DeviceCode> {
        Record::new(
            r.id,
            self.to.clone(),
            r.created_at,
            r.expires_at,
            r.state,
            Arc::clone(&r.body),
        )
    }
}

impl<S: Store<DeviceCode>> Overrides<DeviceCode, S> for Relabel {
    async fn get(
        &self,
        inner: &S,
        id: PendingId,
        now: Timestamp,
    ) -> Result<Option<Record<DeviceCode>>, StoreError> {
        Ok(inner.get(id, now).await?.map(|r| self.relabel(r)))
    }
    async fn complete(
        &self,
        inner: &S,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<DeviceCode>, TransitionError> {
        Ok(self.relabel(inner.complete(id, expect, now, wake).await?))
    }
    async fn cancel(
        &self,
        inner: &S,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> Result<Record<DeviceCode>, TransitionError> {
        Ok(self.relabel(inner.cancel(id, reason, expect, now).await?))
    }
}

fn key(byte: u8) -> IntegrityKey {
    IntegrityKey::new([byte; 32]).expect("key")
}

fn manager<S: Store<DeviceCode>>(
    store: S,
    key: Option<IntegrityKey>,
) -> Manager<DeviceCode, S, FromVerifiedSubject> {
    let b = Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"));
    match key {
        Some(k) => b.integrity_key(k).build(),
        None => b.build(),
    }
}

/// Bob completes his own pending through the relabelling store; returns what alice's vault
/// entry holds afterwards and how the completion ended.
async fn bob_completes(key: Option<IntegrityKey>) -> (Option<String>, Result<(), Error>) {
    let inner = MemoryStore::new();
    let honest = manager(inner.clone(), key.clone());
    let bob = user("bob");
    let open = honest.create(&bob, spec()).await.expect("create");
    let id = open.id();
    let lying = manager(Delegate::new(inner, Relabel { to: ns("alice") }), key);
    let vault = MemoryVault::<String>::new();
    let writer = vault.clone();
    let done = async {
        let open = lying.open(id).await?;
        lying
            .complete_with(open, async move |token| {
                writer.put(&token, "github", "bob's secret".into()).await
            })
            .await
            .map(|_| ())
    }
    .await;
    let alice = user("alice");
    let t = honest.caller(&alice).expect("caller");
    (vault.get(&t, "github").await.expect("get"), done)
}

#[tokio::test]
async fn a_relabelled_pending_is_refused_before_any_persist_step() {
    let (alice_entry, done) = bob_completes(Some(key(7))).await;
    assert!(matches!(done, Err(Error::StoreContract(_))), "{done:?}");
    assert_eq!(alice_entry, None, "bob's secret landed under alice");
}

#[tokio::test]
async fn without_the_key_the_same_relabelling_goes_through() {
    // What the integrity key is for: the manager cannot see the lie on its own.
    let (alice_entry, done) = bob_completes(None).await;
    assert!(done.is_ok(), "{done:?}");
    assert_eq!(alice_entry.as_deref(), Some("bob's secret"));
}

#[tokio::test]
async fn replicas_with_the_same_key_share_pendings_and_another_key_is_refused() {
    let store = MemoryStore::new();
    let a = manager(store.clone(), Some(key(7)));
    let b = manager(store.clone(), Some(key(7)));
    let other = manager(store.clone(), Some(key(8)));
    let alice = user("alice");
    let open = a.create(&alice, spec()).await.expect("create");
    let id = open.id();
    assert!(matches!(b.get(id).await, Ok(AnyPending::Open(_))));
    assert!(matches!(other.get(id).await, Err(Error::StoreContract(_))));
    assert!(matches!(other.open(id).await, Err(Error::StoreContract(_))));
    assert!(matches!(
        other.list(&alice).await,
        Err(Error::StoreContract(_))
    ));
    // A pending minted without the key is refused by a keyed manager, too.
    let plain = manager(store.clone(), None);
    let unbound = plain.create(&alice, spec()).await.expect("create");
    assert!(matches!(
        a.get(unbound.id()).await,
        Err(Error::StoreContract(_))
    ));
    // The keyed replica completes its own.
    let open = b.open(id).await.expect("open");
    b.complete(open).await.expect("complete");
    assert!(matches!(a.get(id).await, Ok(AnyPending::Completed(_))));
}
