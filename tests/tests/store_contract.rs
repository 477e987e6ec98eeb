//! The manager checks what a store answers a transition with: a custom store that returns
//! another record (another namespace, another id) than the one asked for makes the call fail
//! with `Error::StoreContract`, and a `complete_with` then never runs its persist step, so a
//! buggy store cannot hand one user's completion a capability for another namespace.
//!
//! The store here is written as a user would write one: a wrapper around `MemoryStore` that
//! delegates every method, except that its `complete` and/or `cancel` answer with a doctored
//! record. An honest wrapper (pure delegation) is checked too, so the refusals are the
//! manager's doing and not an artifact of the wrapper.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use oob::provider::FromVerifiedSubject;
use oob::state::CancelReason;
use oob::store::{MemoryStore, Record, Store, TransitionError, Wake};
use oob::time::{Timestamp, TokioClock};
use oob::vault::{MemoryVault, Vault};
use oob::{AnyPending, CallbackBase, Error, Manager, Namespace, PendingId};
use oob_tests::delegate::{Delegate, Overrides};
use oob_tests::{DeviceCode, ns, spec, user};

/// How a [`Doctored`] store bends the record it answers a transition with.
#[derive(Debug, Clone)]
enum Lie {
    /// Answers truthfully.
    None,
    /// Answers with the record moved to this namespace.
    Namespace(Namespace),
    /// Answers with the record under this id.
    Id(PendingId),
}

impl Lie {
    fn apply<T>(&self, record: Record<T>) -> Record<T> {
        match self {
            Self::None => record,
            Self::Namespace(namespace) => {
                let mut lie = record;
                lie.namespace = namespace.clone();
                lie
            }
            Self::Id(id) => {
                let mut lie = record;
                lie.id = *id;
                lie
            }
        }
    }
}

/// A custom store: a `MemoryStore` whose `complete` and `cancel` answers pass through a
/// [`Lie`] each (the transition itself is done, truthfully, by the inner store).
type Doctored<T> = Delegate<MemoryStore<T>, Lies>;

/// The [`Lie`]s a [`Doctored`] store tells, changeable while it runs.
struct Lies {
    on_complete: Mutex<Lie>,
    on_cancel: Mutex<Lie>,
}

fn doctored<T>(on_complete: Lie, on_cancel: Lie) -> Doctored<T> {
    Delegate::new(
        MemoryStore::new(),
        Lies {
            on_complete: Mutex::new(on_complete),
            on_cancel: Mutex::new(on_cancel),
        },
    )
}

impl Lies {
    fn lie_on_complete(&self) -> Lie {
        self.on_complete
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn lie_on_cancel(&self) -> Lie {
        self.on_cancel
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl<T: Send + Sync + 'static, S: Store<T>> Overrides<T, S> for Lies {
    async fn complete(
        &self,
        inner: &S,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        let lie = self.lie_on_complete();
        let record = inner.complete(id, expect, now, wake).await?;
        Ok(lie.apply(record))
    }

    async fn cancel(
        &self,
        inner: &S,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> Result<Record<T>, TransitionError> {
        let lie = self.lie_on_cancel();
        let record = inner.cancel(id, reason, expect, now).await?;
        Ok(lie.apply(record))
    }
}

type M = Manager<DeviceCode, Doctored<DeviceCode>, FromVerifiedSubject>;

fn manager(on_complete: Lie, on_cancel: Lie) -> M {
    Manager::builder()
        .store(doctored(on_complete, on_cancel))
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("valid base"))
        .clock(TokioClock::new())
        .build()
}

/// Everything the vault holds for the verified caller `who` (read with that caller's own
/// capability): its keys, then the value under `github`, if any.
async fn stored(m: &M, vault: &MemoryVault<String>, who: &str) -> Vec<String> {
    let cx = user(who);
    let token = m.caller(&cx).expect("caller");
    let mut keys = vault.keys(&token).await.expect("keys");
    if let Some(v) = vault.get(&token, "github").await.expect("vault") {
        keys.push(v);
    }
    keys
}

/// Runs `complete_with` on a fresh pending of alice: whether its persist step ran, and
/// what the call returned.
async fn complete_with_persist(
    m: &M,
    vault: &MemoryVault<String>,
) -> (PendingId, bool, Result<(), Error>) {
    let open = m.create(&user("alice"), spec()).await.expect("create");
    let id = open.id();
    let ran = Arc::new(AtomicBool::new(false));
    let (writer, flag) = (vault.clone(), Arc::clone(&ran));
    let result = m
        .complete_with(open, async move |token| {
            flag.store(true, Ordering::SeqCst);
            writer.put(&token, "github", "alice-token".into()).await
        })
        .await
        .map(|(done, ())| assert_eq!(done.id(), id));
    (id, ran.load(Ordering::SeqCst), result)
}

fn is_contract(r: &Result<impl std::fmt::Debug, Error>, id: PendingId) -> bool {
    matches!(r, Err(Error::StoreContract(x)) if *x == id)
}

#[tokio::test]
async fn complete_with_refuses_an_answer_in_another_namespace_and_persists_nothing() {
    let m = manager(Lie::Namespace(ns("mallory")), Lie::None);
    let vault = MemoryVault::<String>::new();
    let (id, ran, result) = complete_with_persist(&m, &vault).await;
    assert!(is_contract(&result, id), "{result:?}");
    assert!(!ran, "the persist step ran with a store that lied");
    assert!(stored(&m, &vault, "alice").await.is_empty());
    assert!(stored(&m, &vault, "mallory").await.is_empty());
    // The inner store did complete it (the user acted); nothing was handed out.
    assert!(matches!(m.get(id).await, Ok(AnyPending::Completed(_))));
}

#[tokio::test]
async fn complete_with_refuses_an_answer_with_another_id_and_persists_nothing() {
    let m = manager(Lie::Id(PendingId::random()), Lie::None);
    let vault = MemoryVault::<String>::new();
    let (id, ran, result) = complete_with_persist(&m, &vault).await;
    assert!(is_contract(&result, id), "{result:?}");
    assert!(!ran, "the persist step ran with a store that lied");
    assert!(stored(&m, &vault, "alice").await.is_empty());

    // Another id that names a real pending of another user: still refused, nothing written
    // for either of them.
    let bobs = m.create(&user("bob"), spec()).await.expect("create");
    *m.store()
        .over
        .on_complete
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Lie::Id(bobs.id());
    let (id, ran, result) = complete_with_persist(&m, &vault).await;
    assert!(is_contract(&result, id), "{result:?}");
    assert!(!ran, "the persist step ran with a store that lied");
    assert!(stored(&m, &vault, "alice").await.is_empty());
    assert!(stored(&m, &vault, "bob").await.is_empty());
}

#[tokio::test]
async fn complete_and_complete_in_refuse_an_answer_in_another_namespace() {
    let m = manager(Lie::Namespace(ns("mallory")), Lie::None);
    let open = m.create(&user("alice"), spec()).await.expect("create");
    let id = open.id();
    let r = m.complete(open).await;
    assert!(is_contract(&r, id), "{r:?}");

    // `complete_in` checks the answer against the namespace it was given.
    let open = m.create(&user("alice"), spec()).await.expect("create");
    let id = open.id();
    let r = m.complete_in(id, &ns("alice")).await;
    assert!(is_contract(&r, id), "{r:?}");

    // Another expected namespace is refused by the store itself, before any answer.
    let open = m.create(&user("alice"), spec()).await.expect("create");
    let id = open.id();
    let r = m.complete_in(id, &ns("mallory")).await;
    assert!(
        matches!(r, Err(Error::NamespaceMismatch(x)) if x == id),
        "{r:?}"
    );
    assert!(matches!(m.get(id).await, Ok(AnyPending::Open(_))));
}

#[tokio::test]
async fn complete_complete_id_and_complete_in_refuse_an_answer_with_another_id() {
    let m = manager(Lie::Id(PendingId::random()), Lie::None);
    let open = m.create(&user("alice"), spec()).await.expect("create");
    let id = open.id();
    let r = m.complete(open).await;
    assert!(is_contract(&r, id), "{r:?}");

    let id = m.create(&user("alice"), spec()).await.expect("create").id();
    let r = m.complete_id(id).await;
    assert!(is_contract(&r, id), "{r:?}");

    let id = m.create(&user("alice"), spec()).await.expect("create").id();
    let r = m.complete_in(id, &ns("alice")).await;
    assert!(is_contract(&r, id), "{r:?}");
}

/// `cancel`, `decline`, and `cancel_id` with `reason` and `expect`, each on a fresh pending
/// of alice: every one fails with the contract error.
async fn cancels_are_refused(m: &M, reason: CancelReason, expect: Option<&Namespace>) {
    let open = m.create(&user("alice"), spec()).await.expect("create");
    let id = open.id();
    let r = m.cancel(open).await;
    assert!(is_contract(&r, id), "{r:?}");

    let open = m.create(&user("alice"), spec()).await.expect("create");
    let id = open.id();
    let r = m.decline(open).await;
    assert!(is_contract(&r, id), "{r:?}");

    let id = m.create(&user("alice"), spec()).await.expect("create").id();
    let r = m.cancel_id(id, reason, expect).await;
    assert!(is_contract(&r, id), "{r:?}");
}

#[tokio::test]
async fn cancel_and_decline_refuse_an_answer_in_another_namespace() {
    let m = manager(Lie::None, Lie::Namespace(ns("mallory")));
    cancels_are_refused(&m, CancelReason::Cancelled, Some(&ns("alice"))).await;
}

#[tokio::test]
async fn cancel_and_decline_refuse_an_answer_with_another_id() {
    let m = manager(Lie::None, Lie::Id(PendingId::random()));
    cancels_are_refused(&m, CancelReason::Declined, None).await;
}

/// The same wrapper, delegating truthfully: every call above succeeds, and `complete_with`
/// persists under the pending's own namespace.
#[tokio::test]
async fn an_honest_wrapper_passes_every_call() {
    let m = manager(Lie::None, Lie::None);
    let vault = MemoryVault::<String>::new();
    let (id, ran, result) = complete_with_persist(&m, &vault).await;
    result.expect("complete_with");
    assert!(ran);
    assert_eq!(
        stored(&m, &vault, "alice").await,
        vec!["github".to_string(), "alice-token".to_string()]
    );
    assert!(stored(&m, &vault, "mallory").await.is_empty());
    assert!(matches!(m.get(id).await, Ok(AnyPending::Completed(_))));

    let open = m.create(&user("alice"), spec()).await.expect("create");
    let done = m.complete(open).await.expect("complete");
    assert_eq!(done.namespace(), &ns("alice"));
    let id = m.create(&user("alice"), spec()).await.expect("create").id();
    m.complete_id(id).await.expect("complete_id");
    let id = m.create(&user("alice"), spec()).await.expect("create").id();
    m.complete_in(id, &ns("alice")).await.expect("complete_in");

    let open = m.create(&user("alice"), spec()).await.expect("create");
    assert!(!m.cancel(open).await.expect("cancel").is_declined());
    let open = m.create(&user("alice"), spec()).await.expect("create");
    assert!(m.decline(open).await.expect("decline").is_declined());
    let id = m.create(&user("alice"), spec()).await.expect("create").id();
    let cancelled = m
        .cancel_id(id, CancelReason::Cancelled, Some(&ns("alice")))
        .await
        .expect("cancel_id");
    assert_eq!(cancelled.id(), id);
    assert!(matches!(m.get(id).await, Ok(AnyPending::Cancelled(_))));
}

/// When `complete_with` refuses a store's answer, it does not trust that answer for the
/// wake-up either: with an answer under another id, the waiters of that other (still open)
/// pending must not be told it completed, and the waiters of the pending the store did
/// complete are woken with its own record (re-read), not left to their deadline.
#[tokio::test]
async fn a_refused_complete_with_wakes_only_its_own_waiters_with_its_own_record() {
    use std::time::Duration;
    let m = manager(Lie::None, Lie::None);
    let bobs = m.create(&user("bob"), spec()).await.expect("create");
    let alices = m.create(&user("alice"), spec()).await.expect("create");
    let (aid, bid) = (alices.id(), bobs.id());
    let alice_waits = oob_tests::spawn_wait(&m, aid, Duration::from_secs(2));
    let mut bob_waits = oob_tests::spawn_wait(&m, bid, Duration::from_secs(30));
    while m.store().inner.watched() < 2 {
        tokio::task::yield_now().await;
    }
    *m.store()
        .over
        .on_complete
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Lie::Id(bid);
    let r = m
        .complete_with(alices, async |_token| Ok::<_, std::io::Error>(()))
        .await;
    assert!(is_contract(&r, aid), "{r:?}");
    // Bob's pending is still open: his waiter must not have been told otherwise.
    let early = tokio::time::timeout(Duration::from_millis(200), &mut bob_waits).await;
    assert!(
        early.is_err(),
        "bob's waiter woke for a pending that is still open: {early:?}"
    );
    assert!(matches!(m.get(bid).await, Ok(AnyPending::Open(_))));
    // Alice's pending was completed in the store: her waiter wakes (well before its 2 s).
    match alice_waits.await.expect("join").expect("wait") {
        oob::Outcome::Completed(p) => assert_eq!(p.namespace(), &ns("alice")),
        other => panic!("alice's waiter was not woken by the completion: {other:?}"),
    }
    bob_waits.abort();
}

/// As above, for an answer in another namespace: the waiter's outcome must name the
/// pending's true namespace, not the one the store's answer carried.
#[tokio::test]
async fn a_refused_complete_with_wakes_its_waiters_with_the_true_namespace() {
    use std::time::Duration;
    let m = manager(Lie::Namespace(ns("mallory")), Lie::None);
    let open = m.create(&user("alice"), spec()).await.expect("create");
    let id = open.id();
    let waiter = oob_tests::spawn_wait(&m, id, Duration::from_secs(30));
    while m.store().inner.watched() < 1 {
        tokio::task::yield_now().await;
    }
    let r = m
        .complete_with(open, async |_token| Ok::<_, std::io::Error>(()))
        .await;
    assert!(is_contract(&r, id), "{r:?}");
    match waiter.await.expect("join").expect("wait") {
        oob::Outcome::Completed(p) => assert_eq!(
            p.namespace(),
            &ns("alice"),
            "the waiter's outcome names the namespace the store lied about"
        ),
        other => panic!("{other:?}"),
    }
}

/// A store whose `list_namespace` answers another namespace's record too (a custom store's
/// bug): the manager lists only the caller's own. (Found by mutation testing, 2026-12-07:
/// the manager's filter could go with every test passing.)
#[tokio::test]
async fn list_shows_only_the_callers_own_whatever_the_store_answers() {
    struct ListsMore(Arc<Mutex<Vec<Record<DeviceCode>>>>);
    impl Overrides<DeviceCode, MemoryStore<DeviceCode>> for ListsMore {
        async fn list_namespace(
            &self,
            inner: &MemoryStore<DeviceCode>,
            namespace: oob::store::NamespaceScope<'_>,
            now: Timestamp,
        ) -> Result<Vec<Record<DeviceCode>>, oob::store::StoreError> {
            let mut all = inner.list_namespace(namespace, now).await?;
            all.extend(
                self.0
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .iter()
                    .cloned(),
            );
            Ok(all)
        }
    }
    let extra = Arc::new(Mutex::new(Vec::new()));
    let m = Manager::builder()
        .store(Delegate::new(MemoryStore::new(), ListsMore(extra.clone())))
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .build();
    let mine = m.create(&user("alice"), spec()).await.expect("create").id();
    let bobs = m.create(&user("bob"), spec()).await.expect("create").id();
    let bob_record = m
        .store()
        .get(bobs, oob::time::Clock::now(&oob::time::SystemClock))
        .await
        .expect("get")
        .expect("bob's");
    extra
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(bob_record);
    let listed: Vec<PendingId> = m
        .list(&user("alice"))
        .await
        .expect("list")
        .iter()
        .map(oob::Pending::id)
        .collect();
    assert_eq!(listed, [mine]);
}
