//! The store conformance suite: one set of cases that every [`Store`] must pass.
//!
//! Invoke [`store_conformance!`](crate::store_conformance) in a test file with a path to an
//! `async fn(retention: Duration) -> S` that returns a fresh, empty, isolated store:
//!
//! ```ignore
//! async fn make(retention: Duration) -> MemoryStore<DeviceCode> {
//!     MemoryStore::new().with_retention(retention)
//! }
//! oob_tests::store_conformance!(make);
//! ```
//!
//! Time is the manager's: a [`ManualClock`] that starts at the real current time and only
//! moves when a case advances it, so stores with real-time key TTLs still behave.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use oob::namespace::Namespace;
use oob::provider::FromVerifiedSubject;
use oob::state::CancelReason;
use oob::store::{
    CreateError, Created, Dedup, Finished, Limits, NewRecord, Record, RecordState, Scope, Store,
    StoreError, Subscription, TransitionError, Wake,
};
use oob::time::{Clock, SystemClock, Timestamp};
use oob::vault::{MemoryVault, Vault};
use oob::{
    AnyPending, CallbackBase, Error, Joined, Manager, NamespaceToken, Outcome, PendingId, Spec,
};

use crate::{DeviceCode, device_code, finished, ns, spawn_wait, spec, user};

mod exact;
pub use exact::*;

/// The retention window the macro gives stores for most cases.
pub const RETENTION: Duration = Duration::from_secs(300);

/// Generates one `#[tokio::test]` per conformance case in the invoking module.
///
/// `$make` is a path to `async fn(retention: std::time::Duration) -> S` where
/// `S: oob::store::Store<DeviceCode> + Clone` returns a FRESH, EMPTY, ISOLATED store with
/// that retention window for finished records (each call must not see other calls' data).
#[macro_export]
macro_rules! store_conformance {
    ($make:path) => {
        $crate::store_conformance!(@cases $make, $crate::conformance::RETENTION;
            create_then_get_round_trips,
            create_refuses_a_duplicate_id,
            get_unknown_is_none,
            complete_is_single_and_final,
            cancel_and_decline_are_final,
            transitions_of_unknown_ids_are_not_found,
            list_namespace_returns_open_only,
            clear_namespace_touches_no_other_namespace,
            expiry_is_enforced_on_read_transition_and_list,
            retention_keeps_outcomes_then_purge_forgets,
            purge_keeps_open_and_forgets_expired_after_window,
            complete_in_checks_the_namespace,
            create_or_join_joins_the_same_key_only,
            decline_cooldown_answers_then_lapses,
            capacity_per_namespace_leaves_store_unchanged,
            capacity_total_leaves_store_unchanged,
            expired_pendings_do_not_count_against_capacity,
            waiter_is_woken_by_complete_on_another_task,
            waiter_is_woken_with_cancel_and_decline,
            waiter_after_the_outcome_gets_it,
            waiter_sees_expiry,
            waiter_sees_removal_by_clear,
            complete_with_persists_before_waking,
            store_wake_later_holds_waiters,
            payload_and_labels_survive_unicode,
            capacity_scope_is_the_namespace_when_both_bounds_are_exceeded,
            expiry_is_exact_to_the_millisecond,
            expired_pendings_free_capacity_at_the_millisecond,
            reads_end_with_the_retention_window,
            decline_cooldown_is_exact_and_the_latest_decline_answers
        );
        $crate::store_conformance!(@cases $make, ::std::time::Duration::ZERO;
            zero_retention_forgets_at_once_and_waiters_get_outcome,
            zero_retention_is_gone_when_the_call_returns
        );
        $crate::store_conformance!(@mt $make, $crate::conformance::RETENTION;
            concurrent_completers_exactly_one_wins,
            concurrent_create_or_join_yields_one_pending,
            concurrent_creates_respect_capacity
        );
        $crate::store_conformance!(@mt $make, ::std::time::Duration::ZERO;
            zero_retention_readers_see_the_record_or_its_event
        );
    };
    (@cases $make:path, $retention:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::conformance::$case($make($retention).await).await;
            }
        )*
    };
    (@mt $make:path, $retention:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::conformance::$case($make($retention).await).await;
            }
        )*
    };
}

/// A clock that starts at the real current time and moves only when advanced.
#[derive(Debug, Clone)]
pub struct ManualClock {
    ms: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock at the real current time.
    #[must_use]
    pub fn new() -> Self {
        Self {
            ms: Arc::new(AtomicU64::new(SystemClock.now().as_millis())),
        }
    }

    /// The clock's time, as a `SystemTime`.
    #[must_use]
    pub fn now_system(&self) -> std::time::SystemTime {
        self.now().to_system_time()
    }

    /// Moves the clock forward.
    pub fn advance(&self, d: Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.ms.load(Ordering::SeqCst))
    }
}

/// The manager the cases use.
pub type ConfManager<S> = Manager<DeviceCode, S, FromVerifiedSubject>;

/// Manager options for a case.
#[derive(Debug, Clone, Copy)]
pub struct Opts {
    /// Open pendings per namespace.
    pub per_namespace: usize,
    /// Open pendings in the store.
    pub total: usize,
    /// Decline cooldown.
    pub cooldown: Duration,
}

impl Default for Opts {
    fn default() -> Self {
        Self {
            per_namespace: 1_000,
            total: usize::MAX,
            cooldown: Duration::ZERO,
        }
    }
}

/// A manager over `store` on a fresh [`ManualClock`].
pub fn manager_on<S: Store<DeviceCode>>(store: S, opts: Opts) -> (ConfManager<S>, ManualClock) {
    let clock = ManualClock::new();
    let m = Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("valid base"))
        .clock(clock.clone())
        .max_open_per_namespace(opts.per_namespace)
        .max_open_total(opts.total)
        .decline_cooldown(opts.cooldown)
        .build();
    (m, clock)
}

fn setup<S: Store<DeviceCode>>(store: S) -> (ConfManager<S>, ManualClock) {
    manager_on(store, Opts::default())
}

/// The ids of the open pendings that the verified caller `n` lists.
async fn list_ids<S: Store<DeviceCode>>(m: &ConfManager<S>, n: &str) -> HashSet<PendingId> {
    let list = m.list(&user(n)).await.expect("list");
    list.iter().map(oob::Pending::id).collect()
}

/// What the second attempt of a [`CreateTwice`] store answered.
type SecondCreate = Arc<Mutex<Option<Result<Created<DeviceCode>, CreateError>>>>;

/// A store that inserts every new record the manager hands it twice: the first answer goes
/// back to the manager, the second (the store's answer to a duplicate id) is kept for the
/// case to inspect. Only the manager makes a [`NewRecord`], so this is how a test makes a
/// store see the same id twice. Every other method delegates.
struct CreateTwice<S> {
    inner: S,
    second: SecondCreate,
}

impl<S: Store<DeviceCode>> Store<DeviceCode> for CreateTwice<S> {
    async fn create(
        &self,
        new: &NewRecord<DeviceCode>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> Result<Created<DeviceCode>, CreateError> {
        let first = self.inner.create(new, limits, dedup, now).await;
        let second = self.inner.create(new, limits, dedup, now).await;
        *self.second.lock().unwrap_or_else(PoisonError::into_inner) = Some(second);
        first
    }

    async fn get(
        &self,
        id: PendingId,
        now: Timestamp,
    ) -> Result<Option<Record<DeviceCode>>, StoreError> {
        self.inner.get(id, now).await
    }

    async fn complete(
        &self,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<DeviceCode>, TransitionError> {
        self.inner.complete(id, expect, now, wake).await
    }

    async fn wake(&self, record: &Record<DeviceCode>) -> Result<(), StoreError> {
        self.inner.wake(record).await
    }

    async fn cancel(
        &self,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> Result<Record<DeviceCode>, TransitionError> {
        self.inner.cancel(id, reason, expect, now).await
    }

    async fn list_namespace(
        &self,
        namespace: &NamespaceToken<'_>,
        now: Timestamp,
    ) -> Result<Vec<Record<DeviceCode>>, StoreError> {
        self.inner.list_namespace(namespace, now).await
    }

    async fn clear_namespace(&self, namespace: &NamespaceToken<'_>) -> Result<usize, StoreError> {
        self.inner.clear_namespace(namespace).await
    }

    async fn purge(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.inner.purge(now).await
    }

    async fn subscribe(&self, id: PendingId) -> Result<Subscription<DeviceCode>, StoreError> {
        self.inner.subscribe(id).await
    }
}

/// Create, then read back through the store and the manager: every field survives.
pub async fn create_then_get_round_trips<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = setup(store.clone());
    let p = m
        .create(
            &user("alice"),
            spec()
                .alias("gh")
                .elicit_id("el-1")
                .ttl(Duration::from_secs(60)),
        )
        .await
        .expect("create");
    let r = store
        .get(p.id(), clock.now())
        .await
        .expect("get")
        .expect("present");
    assert_eq!(r.id, p.id());
    assert_eq!(r.namespace, ns("alice"));
    assert_eq!(r.state, RecordState::Open);
    assert_eq!(r.created_at, clock.now());
    assert_eq!(
        r.expires_at,
        clock.now().saturating_add(Duration::from_secs(60))
    );
    assert_eq!(r.body.data(), &device_code());
    assert_eq!(r.body.alias(), Some("gh"));
    assert_eq!(r.body.resource(), Some("example.com"));
    assert_eq!(r.body.elicit_id(), Some("el-1"));
    match m.get(p.id()).await.expect("get") {
        AnyPending::Open(o) => {
            assert_eq!(o.namespace(), &ns("alice"));
            assert_eq!(o.data(), &device_code());
            assert_eq!(o.kind(), "device_code");
        }
        other => panic!("expected open, got {other:?}"),
    }
    assert_eq!(m.open(p.id()).await.expect("open").id(), p.id());
}

/// A second create of the same id inserts nothing: the store refuses it with
/// `DuplicateId` and keeps the first record, once.
pub async fn create_refuses_a_duplicate_id<S: Store<DeviceCode> + Clone>(store: S) {
    let second = SecondCreate::default();
    let (m, clock) = setup(CreateTwice {
        inner: store.clone(),
        second: Arc::clone(&second),
    });
    let p = m.create(&user("a"), spec()).await.expect("create");
    let again = second
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
        .expect("the store saw the record twice");
    assert!(matches!(again, Err(CreateError::DuplicateId)), "{again:?}");
    let got = store
        .get(p.id(), clock.now())
        .await
        .expect("get")
        .expect("present");
    assert_eq!(got.namespace, ns("a"));
    assert_eq!(got.state, RecordState::Open);
    assert_eq!(list_ids(&m, "a").await, HashSet::from([p.id()]));
    // The same holds for a record that `create_or_join` hands over.
    let q = m
        .create_or_join(&user("b"), spec().alias("gh"))
        .await
        .expect("create_or_join");
    assert!(matches!(q, Joined::Created(_)), "{q:?}");
    let qid = q.into_open().expect("open").id();
    let again = second
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
        .expect("the store saw the record twice");
    match again {
        // Refused as a duplicate, or joined to the very record it already holds.
        Err(CreateError::DuplicateId) => {}
        Ok(Created::Joined(r)) => assert_eq!(r.id, qid),
        other => panic!("expected DuplicateId or a join of {qid}, got {other:?}"),
    }
    assert_eq!(list_ids(&m, "b").await, HashSet::from([qid]));
}

/// Unknown ids read as `None` / not found.
pub async fn get_unknown_is_none<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = setup(store.clone());
    let id = PendingId::random();
    assert!(store.get(id, clock.now()).await.expect("get").is_none());
    assert!(matches!(m.get(id).await, Err(Error::NotFound(x)) if x == id));
    assert!(matches!(m.open(id).await, Err(Error::NotFound(_))));
}

/// Complete succeeds once; every later transition reports the completion.
pub async fn complete_is_single_and_final<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = setup(store.clone());
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id();
    clock.advance(Duration::from_secs(1));
    let done = m.complete(p).await.expect("complete");
    assert_eq!(done.id(), id);
    assert_eq!(done.namespace(), &ns("a"));
    assert_eq!(done.state().at(), clock.now());
    assert_eq!(done.data(), &device_code());
    assert_eq!(
        finished(&m.complete_id(id).await),
        Some(Finished::Completed)
    );
    assert_eq!(
        finished(&m.cancel_id(id, CancelReason::Cancelled, None).await),
        Some(Finished::Completed)
    );
    let r = store
        .get(id, clock.now())
        .await
        .expect("get")
        .expect("present");
    assert_eq!(r.state, RecordState::Completed { at: clock.now() });
    assert!(matches!(m.get(id).await, Ok(AnyPending::Completed(_))));
    assert_eq!(finished(&m.open(id).await), Some(Finished::Completed));
}

/// Cancel and decline are recorded with their reason and are final.
pub async fn cancel_and_decline_are_final<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = setup(store.clone());
    let c = m.create(&user("a"), spec()).await.expect("create");
    let d = m.create(&user("a"), spec()).await.expect("create");
    let (cid, did) = (c.id(), d.id());
    let cancelled = m.cancel(c).await.expect("cancel");
    assert!(!cancelled.is_declined());
    let declined = m.decline(d).await.expect("decline");
    assert!(declined.is_declined());
    assert_eq!(
        finished(&m.complete_id(cid).await),
        Some(Finished::Cancelled)
    );
    assert_eq!(
        finished(&m.complete_id(did).await),
        Some(Finished::Declined)
    );
    assert_eq!(
        finished(&m.cancel_id(did, CancelReason::Cancelled, None).await),
        Some(Finished::Declined)
    );
    let r = store
        .get(did, clock.now())
        .await
        .expect("get")
        .expect("present");
    assert_eq!(
        r.state,
        RecordState::Cancelled {
            at: clock.now(),
            reason: CancelReason::Declined
        }
    );
    assert!(list_ids(&m, "a").await.is_empty());
    // At the store level too: a finished record is not listed, and refuses a transition
    // with how it finished.
    let alice = user("a");
    let token = m.caller(&alice).expect("caller");
    assert!(
        store
            .list_namespace(&token, clock.now())
            .await
            .expect("list")
            .is_empty()
    );
    let again = store.complete(did, None, clock.now(), Wake::Now).await;
    assert!(
        matches!(again, Err(TransitionError::Finished(Finished::Declined))),
        "{again:?}"
    );
}

/// Transitions of ids the store never saw are `NotFound`.
pub async fn transitions_of_unknown_ids_are_not_found<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = setup(store);
    let id = PendingId::random();
    assert!(matches!(m.complete_id(id).await, Err(Error::NotFound(_))));
    assert!(matches!(
        m.complete_in(id, &ns("a")).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        m.cancel_id(id, CancelReason::Declined, None).await,
        Err(Error::NotFound(_))
    ));
}

/// `list_namespace` returns exactly the open, unexpired records of that namespace.
pub async fn list_namespace_returns_open_only<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = setup(store);
    let a1 = m.create(&user("a"), spec()).await.expect("create");
    let a2 = m.create(&user("a"), spec()).await.expect("create");
    let a3 = m.create(&user("a"), spec()).await.expect("create");
    let b1 = m.create(&user("b"), spec()).await.expect("create");
    let keep = a3.id();
    let b1id = b1.id();
    m.complete(a1).await.expect("complete");
    m.cancel(a2).await.expect("cancel");
    assert_eq!(list_ids(&m, "a").await, HashSet::from([keep]));
    assert_eq!(list_ids(&m, "b").await, HashSet::from([b1id]));
    assert!(list_ids(&m, "nobody").await.is_empty());
}

/// Clearing a namespace removes all its records, open or finished, and nothing else.
pub async fn clear_namespace_touches_no_other_namespace<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = setup(store);
    let open_a = m.create(&user("a"), spec()).await.expect("create");
    let done_a = m.create(&user("a"), spec()).await.expect("create");
    let done_a_id = done_a.id();
    m.complete(done_a).await.expect("complete");
    let open_b = m.create(&user("b"), spec()).await.expect("create");
    let done_b = m.create(&user("b"), spec()).await.expect("create");
    let done_b_id = done_b.id();
    m.decline(done_b).await.expect("decline");

    assert_eq!(m.clear(&user("a")).await.expect("clear"), 2);
    assert!(matches!(m.get(open_a.id()).await, Err(Error::NotFound(_))));
    assert!(matches!(m.get(done_a_id).await, Err(Error::NotFound(_))));
    assert!(matches!(
        m.complete_id(open_a.id()).await,
        Err(Error::NotFound(_))
    ));
    assert!(list_ids(&m, "a").await.is_empty());
    assert_eq!(list_ids(&m, "b").await, HashSet::from([open_b.id()]));
    assert!(matches!(
        m.get(done_b_id).await,
        Ok(AnyPending::Cancelled(_))
    ));
    assert_eq!(m.clear(&user("a")).await.expect("clear again"), 0);
    m.complete(open_b).await.expect("b still completes");
}

/// Past its deadline an open record reads as expired, is not listed, and refuses every
/// transition.
pub async fn expiry_is_enforced_on_read_transition_and_list<S: Store<DeviceCode> + Clone>(
    store: S,
) {
    let (m, clock) = setup(store.clone());
    let p = m
        .create(&user("a"), spec().ttl(Duration::from_secs(10)))
        .await
        .expect("create");
    let q = m
        .create(&user("a"), spec().ttl(Duration::from_secs(10)))
        .await
        .expect("create");
    let r = m
        .create(&user("a"), spec().ttl(Duration::from_secs(10)))
        .await
        .expect("create");
    let qid = q.id();
    let deadline = clock.now().saturating_add(Duration::from_secs(10));
    clock.advance(Duration::from_secs(9));
    assert_eq!(list_ids(&m, "a").await.len(), 3);
    clock.advance(Duration::from_secs(1));
    // At the deadline itself it is no longer open.
    let rec = store
        .get(p.id(), clock.now())
        .await
        .expect("get")
        .expect("present");
    assert_eq!(rec.state, RecordState::Expired { at: deadline });
    assert!(matches!(m.get(p.id()).await, Ok(AnyPending::Expired(_))));
    assert!(matches!(m.open(p.id()).await, Err(Error::Expired(_))));
    assert!(list_ids(&m, "a").await.is_empty());
    assert!(matches!(m.complete(p).await, Err(Error::Expired(_))));
    assert!(matches!(m.cancel(q).await, Err(Error::Expired(_))));
    assert!(matches!(
        m.complete_in(r.id(), &ns("a")).await,
        Err(Error::Expired(_))
    ));
    assert!(matches!(m.decline(r).await, Err(Error::Expired(_))));
    // Still expired (not completed) on a later read.
    clock.advance(Duration::from_secs(5));
    let rec = store
        .get(qid, clock.now())
        .await
        .expect("get")
        .expect("present");
    assert_eq!(rec.state, RecordState::Expired { at: deadline });
}

/// Outcomes stay readable for the retention window; purge forgets them after it.
pub async fn retention_keeps_outcomes_then_purge_forgets<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = setup(store);
    let c = m.create(&user("a"), spec()).await.expect("create");
    let d = m.create(&user("a"), spec()).await.expect("create");
    let (cid, did) = (c.id(), d.id());
    m.complete(c).await.expect("complete");
    m.decline(d).await.expect("decline");
    clock.advance(RETENTION - Duration::from_secs(1));
    assert_eq!(m.purge().await.expect("purge"), 0);
    assert!(matches!(m.get(cid).await, Ok(AnyPending::Completed(_))));
    assert!(matches!(m.get(did).await, Ok(AnyPending::Cancelled(p)) if p.is_declined()));
    match m.wait(cid, Duration::from_secs(30)).await.expect("wait") {
        Outcome::Completed(p) => assert_eq!(p.id(), cid),
        other => panic!("expected completed, got {other:?}"),
    }
    clock.advance(Duration::from_secs(2));
    assert_eq!(m.purge().await.expect("purge"), 2);
    assert!(matches!(m.get(cid).await, Err(Error::NotFound(_))));
    assert!(matches!(m.get(did).await, Err(Error::NotFound(_))));
    assert_eq!(m.purge().await.expect("purge again"), 0);
}

/// Purge never forgets an open record; an expired one goes a retention window after its
/// deadline.
pub async fn purge_keeps_open_and_forgets_expired_after_window<S: Store<DeviceCode> + Clone>(
    store: S,
) {
    let (m, clock) = setup(store);
    let long = m
        .create(&user("a"), spec().ttl(Duration::from_secs(3_600)))
        .await
        .expect("create");
    let short = m
        .create(&user("a"), spec().ttl(Duration::from_secs(10)))
        .await
        .expect("create");
    clock.advance(Duration::from_secs(10) + RETENTION - Duration::from_secs(1));
    assert_eq!(m.purge().await.expect("purge"), 0);
    assert!(matches!(
        m.get(short.id()).await,
        Ok(AnyPending::Expired(_))
    ));
    clock.advance(Duration::from_secs(2));
    assert_eq!(m.purge().await.expect("purge"), 1);
    assert!(matches!(m.get(short.id()).await, Err(Error::NotFound(_))));
    assert!(matches!(m.get(long.id()).await, Ok(AnyPending::Open(_))));
    m.complete(long).await.expect("complete");
}

/// With zero retention a finished record is forgotten at once, yet a waiter still gets its
/// outcome.
pub async fn zero_retention_forgets_at_once_and_waiters_get_outcome<
    S: Store<DeviceCode> + Clone,
>(
    store: S,
) {
    let (m, _clock) = setup(store);
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id();
    let waiter = spawn_wait(&m, id, Duration::from_secs(30));
    tokio::time::sleep(Duration::from_millis(20)).await;
    m.complete(p).await.expect("complete");
    // Gone as soon as the completing call returned, before any purge.
    assert!(matches!(m.get(id).await, Err(Error::NotFound(_))));
    match waiter.await.expect("join").expect("wait") {
        Outcome::Completed(done) => assert_eq!(done.id(), id),
        other => panic!("expected completed, got {other:?}"),
    }
    m.purge().await.expect("purge");
    assert!(matches!(m.get(id).await, Err(Error::NotFound(_))));
    assert!(matches!(m.complete_id(id).await, Err(Error::NotFound(_))));
    let q = m.create(&user("a"), spec()).await.expect("create");
    let qid = q.id();
    m.cancel(q).await.expect("cancel");
    assert!(matches!(m.get(qid).await, Err(Error::NotFound(_))));
    m.purge().await.expect("purge");
    assert!(matches!(m.get(qid).await, Err(Error::NotFound(_))));
}

/// Of 200 concurrent completers of one id exactly one wins; the rest see it completed.
pub async fn concurrent_completers_exactly_one_wins<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = setup(store);
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id();
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let m = m.clone();
            tokio::spawn(async move { m.complete_id(id).await })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        match t.await.expect("join") {
            Ok(done) => {
                assert_eq!(done.id(), id);
                won += 1;
            }
            Err(Error::Finished {
                how: Finished::Completed,
                ..
            }) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!(won, 1);
    assert!(matches!(m.get(id).await, Ok(AnyPending::Completed(_))));
}

/// `complete_in` with another namespace refuses and leaves the pending open; so does a
/// namespaced cancel.
pub async fn complete_in_checks_the_namespace<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = setup(store);
    let p = m.create(&user("alice"), spec()).await.expect("create");
    let id = p.id();
    assert!(matches!(
        m.complete_in(id, &ns("mallory")).await,
        Err(Error::NamespaceMismatch(x)) if x == id
    ));
    assert!(matches!(
        m.cancel_id(id, CancelReason::Cancelled, Some(&ns("mallory")))
            .await,
        Err(Error::NamespaceMismatch(_))
    ));
    assert!(matches!(m.get(id).await, Ok(AnyPending::Open(_))));
    assert_eq!(list_ids(&m, "alice").await, HashSet::from([id]));
    assert!(list_ids(&m, "mallory").await.is_empty());
    let done = m.complete_in(id, &ns("alice")).await.expect("complete_in");
    assert_eq!(done.namespace(), &ns("alice"));
}

/// `create_or_join` joins an open pending with the same namespace, kind, alias and
/// resource, and nothing else.
pub async fn create_or_join_joins_the_same_key_only<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = setup(store);
    let key = || spec().alias("gh");
    let first = m
        .create_or_join(&user("a"), key())
        .await
        .expect("create")
        .into_open()
        .expect("open");
    let again = m.create_or_join(&user("a"), key()).await.expect("join");
    assert!(again.is_joined());
    assert_eq!(again.into_open().expect("open").id(), first.id());
    let other_alias = m
        .create_or_join(&user("a"), spec().alias("gl"))
        .await
        .expect("create");
    assert!(matches!(other_alias, Joined::Created(ref p) if p.id() != first.id()));
    let other_resource = m
        .create_or_join(
            &user("a"),
            Spec::new(device_code()).alias("gh").resource("x"),
        )
        .await
        .expect("create");
    assert!(matches!(other_resource, Joined::Created(_)));
    let other_ns = m.create_or_join(&user("b"), key()).await.expect("create");
    assert!(matches!(other_ns, Joined::Created(ref p) if p.namespace() == &ns("b")));
    // A plain create never joins.
    let plain = m.create(&user("a"), key()).await.expect("create");
    assert_ne!(plain.id(), first.id());
    // Once the joined one finishes, the other open one with the key is joined.
    m.complete(first).await.expect("complete");
    let after = m.create_or_join(&user("a"), key()).await.expect("join");
    assert!(matches!(after, Joined::Joined(ref p) if p.id() == plain.id()));
    m.cancel(plain).await.expect("cancel");
    // With none open, a new one is created.
    let new = m.create_or_join(&user("a"), key()).await.expect("create");
    assert!(matches!(new, Joined::Created(_)));
    // An expired one is not joined.
    clock.advance(Duration::from_secs(3_600));
    let fresh = m.create_or_join(&user("a"), key()).await.expect("create");
    assert!(matches!(fresh, Joined::Created(_)));
}

/// 100 concurrent `create_or_join` for one key leave exactly one open pending.
pub async fn concurrent_create_or_join_yields_one_pending<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = setup(store);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let m = m.clone();
            tokio::spawn(async move { m.create_or_join(&user("a"), spec().alias("gh")).await })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut created = 0;
    for t in tasks {
        let j = t.await.expect("join").expect("create_or_join");
        if matches!(j, Joined::Created(_)) {
            created += 1;
        }
        seen.insert(j.into_open().expect("open").id());
    }
    assert_eq!(created, 1);
    assert_eq!(seen.len(), 1);
    assert_eq!(list_ids(&m, "a").await, seen);
}

/// Within the cooldown after a decline, `create_or_join` answers with the decline; after
/// it, a new pending is created.
pub async fn decline_cooldown_answers_then_lapses<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = manager_on(
        store,
        Opts {
            cooldown: Duration::from_secs(60),
            ..Opts::default()
        },
    );
    let p = m
        .create_or_join(&user("a"), spec().alias("gh"))
        .await
        .expect("create")
        .into_open()
        .expect("open");
    let pid = p.id();
    m.decline(p).await.expect("decline");
    clock.advance(Duration::from_secs(30));
    match m
        .create_or_join(&user("a"), spec().alias("gh"))
        .await
        .expect("cooldown")
    {
        Joined::Declined(d) => assert_eq!(d.id(), pid),
        other => panic!("expected the decline, got {other:?}"),
    }
    // Other keys and namespaces are unaffected.
    assert!(matches!(
        m.create_or_join(&user("b"), spec().alias("gh")).await,
        Ok(Joined::Created(_))
    ));
    assert!(list_ids(&m, "a").await.is_empty());
    clock.advance(Duration::from_secs(31));
    assert!(matches!(
        m.create_or_join(&user("a"), spec().alias("gh")).await,
        Ok(Joined::Created(_))
    ));
    // A cancel (not a decline) has no cooldown.
    let q = m
        .create_or_join(&user("c"), spec().alias("gh"))
        .await
        .expect("create")
        .into_open()
        .expect("open");
    m.cancel(q).await.expect("cancel");
    assert!(matches!(
        m.create_or_join(&user("c"), spec().alias("gh")).await,
        Ok(Joined::Created(_))
    ));
}

/// The per-namespace bound refuses and leaves the store unchanged; other namespaces and
/// finished pendings are unaffected.
pub async fn capacity_per_namespace_leaves_store_unchanged<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = manager_on(
        store,
        Opts {
            per_namespace: 2,
            ..Opts::default()
        },
    );
    let a1 = m.create(&user("a"), spec()).await.expect("create");
    let a2 = m.create(&user("a"), spec()).await.expect("create");
    let before = list_ids(&m, "a").await;
    assert!(matches!(
        m.create(&user("a"), spec()).await,
        Err(Error::Capacity(Scope::Namespace))
    ));
    assert!(matches!(
        m.create_or_join(&user("a"), spec().alias("new")).await,
        Err(Error::Capacity(Scope::Namespace))
    ));
    assert_eq!(list_ids(&m, "a").await, before);
    // Joining an existing one needs no room.
    m.create(&user("b"), spec()).await.expect("other namespace");
    m.complete(a1).await.expect("complete");
    let a3 = m.create(&user("a"), spec()).await.expect("room again");
    assert_eq!(list_ids(&m, "a").await, HashSet::from([a2.id(), a3.id()]));
}

/// The total bound refuses and leaves the store unchanged.
pub async fn capacity_total_leaves_store_unchanged<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = manager_on(
        store,
        Opts {
            total: 3,
            ..Opts::default()
        },
    );
    let a = m.create(&user("a"), spec()).await.expect("create");
    m.create(&user("b"), spec()).await.expect("create");
    m.create(&user("c"), spec()).await.expect("create");
    assert!(matches!(
        m.create(&user("d"), spec()).await,
        Err(Error::Capacity(Scope::Total))
    ));
    assert!(list_ids(&m, "d").await.is_empty());
    for n in ["a", "b", "c"] {
        assert_eq!(list_ids(&m, n).await.len(), 1);
    }
    m.cancel(a).await.expect("cancel");
    m.create(&user("d"), spec()).await.expect("room again");
}

/// Expired pendings stop counting against both bounds.
pub async fn expired_pendings_do_not_count_against_capacity<S: Store<DeviceCode> + Clone>(
    store: S,
) {
    let (m, clock) = manager_on(
        store,
        Opts {
            per_namespace: 2,
            total: 3,
            ..Opts::default()
        },
    );
    let short = || spec().ttl(Duration::from_secs(5));
    m.create(&user("a"), short()).await.expect("create");
    m.create(&user("a"), short()).await.expect("create");
    m.create(&user("b"), short()).await.expect("create");
    assert!(matches!(
        m.create(&user("a"), spec()).await,
        Err(Error::Capacity(Scope::Namespace))
    ));
    assert!(matches!(
        m.create(&user("c"), spec()).await,
        Err(Error::Capacity(Scope::Total))
    ));
    clock.advance(Duration::from_secs(6));
    m.create(&user("a"), spec()).await.expect("namespace room");
    m.create(&user("a"), spec()).await.expect("namespace room");
    m.create(&user("c"), spec()).await.expect("total room");
}

/// Many concurrent creates never exceed the per-namespace bound.
pub async fn concurrent_creates_respect_capacity<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = manager_on(
        store,
        Opts {
            per_namespace: 7,
            ..Opts::default()
        },
    );
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let m = m.clone();
            tokio::spawn(async move { m.create(&user("a"), spec()).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("join") {
            Ok(_) => ok += 1,
            Err(Error::Capacity(Scope::Namespace)) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!(ok, 7);
    assert_eq!(list_ids(&m, "a").await.len(), 7);
}

/// A waiter on one task is woken by a completion on another.
pub async fn waiter_is_woken_by_complete_on_another_task<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = setup(store);
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id();
    let waiters: Vec<_> = (0..3)
        .map(|_| spawn_wait(&m, id, Duration::from_secs(30)))
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let completer = tokio::spawn({
        let m = m.clone();
        async move { m.complete_id(id).await }
    });
    completer.await.expect("join").expect("complete");
    for w in waiters {
        match w.await.expect("join").expect("wait") {
            Outcome::Completed(done) => {
                assert_eq!(done.id(), id);
                assert_eq!(done.namespace(), &ns("a"));
            }
            other => panic!("expected completed, got {other:?}"),
        }
    }
}

/// Waiters get the typed outcome of a cancel and of a decline.
pub async fn waiter_is_woken_with_cancel_and_decline<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = setup(store);
    let c = m.create(&user("a"), spec()).await.expect("create");
    let d = m.create(&user("a"), spec()).await.expect("create");
    let (cid, did) = (c.id(), d.id());
    let wc = spawn_wait(&m, cid, Duration::from_secs(30));
    let wd = spawn_wait(&m, did, Duration::from_secs(30));
    tokio::time::sleep(Duration::from_millis(20)).await;
    m.cancel(c).await.expect("cancel");
    m.decline(d).await.expect("decline");
    assert!(matches!(
        wc.await.expect("join").expect("wait"),
        Outcome::Cancelled(p) if p.id() == cid && !p.is_declined()
    ));
    assert!(matches!(
        wd.await.expect("join").expect("wait"),
        Outcome::Declined(p) if p.id() == did && p.is_declined()
    ));
}

/// A waiter that starts after the outcome gets it at once (within retention).
pub async fn waiter_after_the_outcome_gets_it<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = setup(store);
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id();
    m.complete(p).await.expect("complete");
    assert!(matches!(
        m.wait(id, Duration::from_secs(30)).await.expect("wait"),
        Outcome::Completed(p) if p.id() == id
    ));
    assert!(matches!(
        m.wait(PendingId::random(), Duration::from_secs(30)).await,
        Err(Error::NotFound(_))
    ));
}

/// A waiter sees the pending expire: it re-reads at the deadline (200 ms of real time),
/// by which the manager clock has passed it.
pub async fn waiter_sees_expiry<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = setup(store);
    let p = m
        .create(&user("a"), spec().ttl(Duration::from_millis(200)))
        .await
        .expect("create");
    let id = p.id();
    let waiter = spawn_wait(&m, id, Duration::from_secs(30));
    tokio::time::sleep(Duration::from_millis(50)).await;
    clock.advance(Duration::from_secs(1));
    assert!(matches!(
        waiter.await.expect("join").expect("wait"),
        Outcome::Expired(p) if p.id() == id
    ));
    assert!(matches!(m.get(id).await, Ok(AnyPending::Expired(_))));
}

/// Clearing the namespace of a waited-on pending ends the wait with `Removed`.
pub async fn waiter_sees_removal_by_clear<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = setup(store);
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id();
    let waiter = spawn_wait(&m, id, Duration::from_secs(30));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(m.clear(&user("a")).await.expect("clear"), 1);
    match waiter.await.expect("join") {
        Ok(Outcome::Removed(x)) => assert_eq!(x, id),
        // The waiter had not read the record yet when it was cleared.
        Err(Error::NotFound(x)) => assert_eq!(x, id),
        other => panic!("expected removed, got {other:?}"),
    }
}

/// `complete_with` persists what it obtained before any waiter wakes.
pub async fn complete_with_persists_before_waking<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = setup(store);
    let vault = MemoryVault::<String>::new();
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id();
    let waiter = tokio::spawn({
        let m = m.clone();
        let vault = vault.clone();
        async move {
            let out = m.wait(id, Duration::from_secs(30)).await;
            let alice = user("a");
            let token = m.caller(&alice).expect("caller");
            let found = vault.get(&token, "token").await.expect("vault");
            (out, found)
        }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let writer = vault.clone();
    let (done, ()) = m
        .complete_with(p, async move |token| {
            // Give an early wake-up every chance to show.
            tokio::time::sleep(Duration::from_millis(50)).await;
            writer.put(&token, "token", "s3cret".into()).await
        })
        .await
        .expect("complete_with");
    assert_eq!(done.id(), id);
    let (out, found) = waiter.await.expect("join");
    assert!(matches!(out.expect("wait"), Outcome::Completed(_)));
    assert_eq!(found.as_deref(), Some("s3cret"));
    // The loser of a race does not persist.
    let again = m.complete_id(id).await;
    assert!(matches!(again, Err(Error::Finished { .. })));
}

/// At the store level: a `Wake::Later` completion is visible to reads at once, and
/// `wake` then releases the waiters with the completed record.
pub async fn store_wake_later_holds_waiters<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = setup(store.clone());
    let now = clock.now();
    let r = m.create(&user("a"), spec()).await.expect("create");
    let mut sub = store.subscribe(r.id()).await.expect("subscribe");
    assert_eq!(sub.id(), r.id());
    let done = store
        .complete(r.id(), Some(&ns("a")), now, Wake::Later)
        .await
        .expect("complete");
    assert_eq!(done.state, RecordState::Completed { at: now });
    // Not woken with the record by the transition itself.
    assert!(sub.try_changed().is_none());
    let read = store.get(r.id(), now).await.expect("get").expect("present");
    assert_eq!(read.state, RecordState::Completed { at: now });
    store.wake(&done).await.expect("wake");
    let woken = async {
        loop {
            // A store may deliver a bare change before the one with the record; re-read then.
            match sub.changed().await {
                Some(rec) => {
                    assert_eq!(rec.id, r.id());
                    assert_eq!(rec.state, RecordState::Completed { at: now });
                    break;
                }
                None => {
                    let rec = store.get(r.id(), now).await.expect("get").expect("present");
                    if rec.state == (RecordState::Completed { at: now }) {
                        break;
                    }
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), woken)
        .await
        .expect("wake() must release the waiters");
}

/// Payloads and labels with non-ASCII text come back byte for byte.
pub async fn payload_and_labels_survive_unicode<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = setup(store.clone());
    let data = DeviceCode {
        verify_url: "https://ex.com/device?q=\"quoted\"&x='y'".into(),
        user_code: "ÄÖÜ-ß-日本-🦀".into(),
        message: "line one\nline two\t\u{0}end".into(),
    };
    let p = m
        .create(
            &user("ünïcode"),
            Spec::new(data.clone())
                .alias("ålias 🦀")
                .resource("résource")
                .elicit_id("id'; DROP TABLE x; --"),
        )
        .await
        .expect("create");
    let r = store
        .get(p.id(), clock.now())
        .await
        .expect("get")
        .expect("present");
    assert_eq!(r.body.data(), &data);
    assert_eq!(r.body.alias(), Some("ålias 🦀"));
    assert_eq!(r.body.resource(), Some("résource"));
    assert_eq!(r.body.elicit_id(), Some("id'; DROP TABLE x; --"));
    assert_eq!(r.namespace, ns("ünïcode"));
    let caller = user("ünïcode");
    let token = m.caller(&caller).expect("caller");
    let listed = store
        .list_namespace(&token, clock.now())
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].body.data(), &data);
    let none = Spec::new(device_code());
    let q = m.create(&user("x"), none).await.expect("create");
    let r = store
        .get(q.id(), clock.now())
        .await
        .expect("get")
        .expect("present");
    assert_eq!(r.body.alias(), None);
    assert_eq!(r.body.resource(), None);
    assert_eq!(r.body.elicit_id(), None);
}

/// Zero retention, racing: a reader that subscribed to an id, then reads it while another
/// task completes or cancels it, finds either the record or the transition's event carrying
/// it; never neither (a waiter would report `NotFound` for a pending that just completed).
pub async fn zero_retention_readers_see_the_record_or_its_event<S: Store<DeviceCode> + Clone>(
    store: S,
) {
    let (m, clock) = setup(store.clone());
    for i in 0..300 {
        let p = m.create(&user("a"), spec()).await.expect("create");
        let id = p.id();
        let mut sub = store.subscribe(id).await.expect("subscribe");
        let finisher = tokio::spawn({
            let m = m.clone();
            async move {
                if i % 2 == 0 {
                    m.complete(p).await.map(|_| ())
                } else {
                    m.decline(p).await.map(|_| ())
                }
            }
        });
        for _ in 0..(i % 7) {
            tokio::task::yield_now().await;
        }
        let read = store.get(id, clock.now()).await.expect("get");
        if read.is_none() {
            let event = sub.try_changed();
            assert!(
                event
                    .as_ref()
                    .is_some_and(|r| r.id == id && !r.state.is_open()),
                "iteration {i}: the record is gone but its event is not there"
            );
        }
        finisher.await.expect("join").expect("finish");
    }
}
