//! Waiters are told how a pending ended even when its completer goes away at the worst
//! moment, when the store forgets a record before the completer woke them, or when a
//! completion's event never reaches them; and a wait with no timeout does not panic.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use oob::namespace::Namespace;
use oob::provider::FromVerifiedSubject;
use oob::store::{MemoryStore, Record, SqliteStore, Store, TransitionError, Wake};
use oob::time::Timestamp;
use oob::vault::Vault as _;
use oob::{CallbackBase, Manager, Outcome, PendingId};
use oob_tests::delegate::{Delegate, Overrides};
use oob_tests::{DeviceCode, manager_with, spawn_wait, spec, user};

/// A memory store whose `complete` is applied at once but answered a second later while
/// `slow` is set: a reply in flight when the completer's future is dropped. While `fail` is
/// set, `complete` fails as an unreachable store would, applying nothing.
#[derive(Clone, Default)]
struct SlowReply {
    slow: Arc<AtomicBool>,
    fail: Arc<AtomicBool>,
}

impl Overrides<DeviceCode, MemoryStore<DeviceCode>> for SlowReply {
    async fn complete(
        &self,
        inner: &MemoryStore<DeviceCode>,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<DeviceCode>, TransitionError> {
        if self.fail.load(Ordering::SeqCst) {
            let down = std::io::Error::other("store down");
            return Err(TransitionError::Store(oob::store::StoreError::backend(
                down,
            )));
        }
        let done = inner.complete(id, expect, now, wake).await;
        if self.slow.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        done
    }
}

type SlowManager =
    Manager<DeviceCode, Delegate<MemoryStore<DeviceCode>, SlowReply>, FromVerifiedSubject>;

fn slow_manager(retention: Duration) -> (SlowManager, Arc<AtomicBool>) {
    let (m, over) = bent_manager(retention);
    (m, over.slow)
}

fn bent_manager(retention: Duration) -> (SlowManager, SlowReply) {
    let over = SlowReply::default();
    let store = Delegate::new(MemoryStore::new().with_retention(retention), over.clone());
    let m = Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .clock(oob::time::TokioClock::new())
        .build();
    (m, over)
}

/// The completer's future is dropped while the store's answer is in flight: the store
/// applied the completion, and the waiters hear of it (they timed out, then reported the
/// pending expired, before), with the default retention and with zero retention.
#[tokio::test(start_paused = true)]
async fn a_completer_dropped_while_the_store_answers_still_wakes_the_waiters() {
    for retention in [oob::store::DEFAULT_RETENTION, Duration::ZERO] {
        let (m, slow) = slow_manager(retention);
        let _sweeper = m.spawn_sweeper(Duration::from_secs(10));
        let p = m.create(&user("a"), spec()).await.expect("create");
        let id = p.id();
        let short = spawn_wait(&m, id, Duration::from_secs(30));
        let long = spawn_wait(&m, id, Duration::from_secs(3_600));
        tokio::time::sleep(Duration::from_millis(10)).await;
        slow.store(true, Ordering::SeqCst);
        let completer = tokio::spawn({
            let m = m.clone();
            async move {
                m.complete_with(p, async move |_t| Ok::<_, std::io::Error>(()))
                    .await
                    .map(|_| ())
            }
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        completer.abort();
        for (waiter, which) in [(short, "30 s waiter"), (long, "1 h waiter")] {
            let outcome = waiter.await.expect("join").expect("wait");
            assert!(
                matches!(outcome, Outcome::Completed(_)),
                "{which}, retention {retention:?}: {outcome:?}"
            );
        }
    }
}

/// Zero retention and a persist step longer than the wake grace: the record is purged while
/// the completer persists, yet every waiter, whether it started before or during the persist
/// step, answers Completed with the winner (they answered Removed and NotFound before).
#[tokio::test(start_paused = true)]
async fn waiters_agree_with_the_winner_when_the_record_is_purged_during_a_long_persist() {
    let m = manager_with(MemoryStore::new().with_retention(Duration::ZERO));
    let _sweeper = m.spawn_sweeper(Duration::from_secs(10));
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id();
    let before = spawn_wait(&m, id, Duration::from_secs(3_600));
    tokio::time::sleep(Duration::from_millis(10)).await;
    let winner = tokio::spawn({
        let m = m.clone();
        async move {
            m.complete_with(p, async move |_t| {
                tokio::time::sleep(Duration::from_secs(90)).await;
                Ok::<_, std::io::Error>(())
            })
            .await
            .map(|(done, ())| done.id())
        }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let during = spawn_wait(&m, id, Duration::from_secs(3_600));
    assert_eq!(winner.await.expect("join").expect("won"), id);
    for (waiter, which) in [(before, "before"), (during, "during")] {
        let outcome = waiter.await.expect("join");
        assert!(
            matches!(outcome, Ok(Outcome::Completed(_))),
            "{which}: {outcome:?}"
        );
    }
}

/// `Duration::MAX` means no timeout: the wait ends with the outcome, no panic.
#[tokio::test(start_paused = true)]
async fn a_wait_without_timeout_does_not_panic() {
    let m = manager_with(MemoryStore::new());
    let p = m.create(&user("a"), spec()).await.expect("create");
    let waiter = spawn_wait(&m, p.id(), Duration::MAX);
    tokio::time::sleep(Duration::from_millis(10)).await;
    m.complete(p).await.expect("complete");
    let outcome = waiter.await.expect("no panic").expect("wait");
    assert!(matches!(outcome, Outcome::Completed(_)), "{outcome:?}");
}

/// Two processes on one SQLite file (no events between them): a completion by one reaches
/// a waiter of the other at a re-read, before the record's retention ends, as Completed (it
/// answered Expired at the deadline before).
#[tokio::test]
async fn a_completion_whose_event_never_arrives_is_read_not_guessed() {
    let db = oob_tests::sqlite_file::TempDb::new("manager-drops-unheard");
    let open = || {
        Manager::<DeviceCode, _, _>::builder()
            .store(
                SqliteStore::<DeviceCode>::open(db.path())
                    .expect("open")
                    .with_retention(Duration::from_secs(1)),
            )
            .provider(FromVerifiedSubject)
            .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
            .build()
    };
    let (a, b) = (open(), open());
    let p = a
        .create(&user("a"), spec().ttl(Duration::from_secs(4)))
        .await
        .expect("create");
    let waiter = spawn_wait(&a, p.id(), Duration::from_secs(30));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let theirs = b.open(p.id()).await.expect("open");
    b.complete_with(theirs, async move |_t| Ok::<_, std::io::Error>(()))
        .await
        .expect("complete");
    let outcome = waiter.await.expect("join").expect("wait");
    assert!(matches!(outcome, Outcome::Completed(_)), "{outcome:?}");
}

/// A double submit: the winner is still persisting when the loser's transition fails with a
/// store error. The loser's guard finds the record completed, but by the winner, so it wakes
/// nobody: the waiters wake once the winner's result is stored (they woke with nothing
/// stored before).
#[tokio::test(start_paused = true)]
async fn a_losing_completer_does_not_wake_the_winners_waiters_early() {
    let (m, over) = bent_manager(oob::store::DEFAULT_RETENTION);
    let vault = oob::vault::MemoryVault::<String>::new();
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id();
    let second_tab = m.open(id).await.expect("open");
    let waiter = spawn_wait(&m, id, Duration::from_secs(60));
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let winner = tokio::spawn({
        let (m, vault) = (m.clone(), vault.clone());
        async move {
            m.complete_with(p, async move |token| {
                let _ = released.await;
                vault.put(&token, "cred", "secret".into()).await
            })
            .await
            .map(|_| ())
        }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    over.fail.store(true, Ordering::SeqCst);
    let lost = m
        .complete_with(second_tab, async move |_t| Ok::<_, std::io::Error>(()))
        .await;
    assert!(lost.is_err(), "the loser fails");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !waiter.is_finished(),
        "woken before the winner stored anything"
    );
    release.send(()).expect("release");
    winner.await.expect("join").expect("won");
    let outcome = waiter.await.expect("join").expect("wait");
    assert!(matches!(outcome, Outcome::Completed(_)), "{outcome:?}");
    let alice = user("a");
    let token = m.caller(&alice).expect("caller");
    assert_eq!(
        vault.get(&token, "cred").await.expect("get").as_deref(),
        Some("secret")
    );
}
