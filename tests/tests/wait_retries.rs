//! `Manager::wait` across a store's passing failure (a shared store failing over, a lost
//! connection): a re-read that fails after the first read is tried again until the
//! timeout, so the waiter still gets the outcome. Before, the first failing re-read ended
//! the wait with the store's error, though the pending was still open (found while
//! testing a Redis Cluster failover, 2026-12-07). A store that keeps failing answers with
//! its failure at the timeout; a first read that fails is the answer at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use oob::provider::FromVerifiedSubject;
use oob::store::{MemoryStore, Record, Store, StoreError};
use oob::time::Timestamp;
use oob::{CallbackBase, Error, Manager, Outcome, PendingId};
use oob_tests::delegate::{Delegate, Overrides};
use oob_tests::{DeviceCode, persisting, spawn_wait, spec, user};

/// Reads fail while `failing` is set.
#[derive(Clone, Default)]
struct Flaky {
    failing: Arc<AtomicBool>,
}

impl<S: Store<DeviceCode>> Overrides<DeviceCode, S> for Flaky {
    async fn get(
        &self,
        inner: &S,
        id: PendingId,
        now: Timestamp,
    ) -> Result<Option<Record<DeviceCode>>, StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::backend(std::io::Error::other("failing over")));
        }
        inner.get(id, now).await
    }
}

type Store_ = Delegate<MemoryStore<DeviceCode>, Flaky>;

/// A store whose waiters re-read every 100 ms (a 200 ms retention) and whose reads fail
/// while the returned flag is set.
fn manager() -> (
    Manager<DeviceCode, Store_, FromVerifiedSubject>,
    Arc<AtomicBool>,
) {
    manager_keeping(Duration::from_millis(200))
}

/// Like [`manager`], with a retention of `retention` (waiters re-read at half of it).
fn manager_keeping(
    retention: Duration,
) -> (
    Manager<DeviceCode, Store_, FromVerifiedSubject>,
    Arc<AtomicBool>,
) {
    let flaky = Flaky::default();
    let failing = flaky.failing.clone();
    let store = Delegate::new(MemoryStore::new().with_retention(retention), flaky);
    let m = Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .build();
    (m, failing)
}

#[tokio::test]
async fn a_waiter_rides_out_failing_re_reads() {
    let (m, failing) = manager();
    let p = m.create(&user("a"), spec()).await.expect("create");
    let waiting = spawn_wait(&m, p.id(), Duration::from_secs(10));
    tokio::time::sleep(Duration::from_millis(50)).await;
    failing.store(true, Ordering::SeqCst);
    // Several re-reads fail meanwhile.
    tokio::time::sleep(Duration::from_millis(600)).await;
    failing.store(false, Ordering::SeqCst);
    m.complete(p).await.expect("complete");
    let outcome = waiting.await.expect("join").expect("the wait goes on");
    assert!(matches!(outcome, Outcome::Completed(_)), "{outcome:?}");
}

#[tokio::test]
async fn a_store_that_keeps_failing_answers_at_the_timeout() {
    let (m, failing) = manager();
    let p = m.create(&user("a"), spec()).await.expect("create");
    let waiting = spawn_wait(&m, p.id(), Duration::from_millis(800));
    tokio::time::sleep(Duration::from_millis(50)).await;
    failing.store(true, Ordering::SeqCst);
    let started = std::time::Instant::now();
    let answer = waiting.await.expect("join");
    assert!(matches!(answer, Err(Error::Store(_))), "{answer:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "at the timeout"
    );
    // A first read that fails is the answer at once.
    let answer = m.wait(p.id(), Duration::from_secs(10)).await;
    assert!(matches!(answer, Err(Error::Store(_))), "{answer:?}");
}

/// A store whose re-reads never recover (a payload that no longer decodes) ends a wait
/// without a timeout after 30 s of failures in a row, with the failure; it waited for ever
/// (found in the re-review, 2026-12-07). On tokio's paused clock.
#[tokio::test(start_paused = true)]
async fn failures_that_last_end_a_wait_without_a_timeout() {
    let (m, failing) = manager();
    let p = m.create(&user("a"), spec()).await.expect("create");
    let waiting = spawn_wait(&m, p.id(), Duration::MAX);
    tokio::time::sleep(Duration::from_millis(50)).await;
    failing.store(true, Ordering::SeqCst);
    let started = tokio::time::Instant::now();
    let answer = waiting.await.expect("join");
    assert!(matches!(answer, Err(Error::Store(_))), "{answer:?}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(30) && took < Duration::from_secs(40),
        "{took:?}"
    );
}

/// After a failed read the waiter re-reads often for a while: a store that failed may have
/// lost the change event of a completion meanwhile (a Redis Cluster failover), which it
/// would otherwise see only at its next re-read, half the retention (30 s here). Found
/// when the cluster soak's load took 30 s instead of 4 (2026-12-07).
#[tokio::test]
async fn after_a_failed_read_a_lost_event_is_read_soon() {
    let (m, failing) = manager_keeping(Duration::from_secs(60));
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id();
    let waiting = spawn_wait(&m, id, Duration::from_secs(5));
    tokio::time::sleep(Duration::from_millis(50)).await;
    // A bare wake-up while reads fail: the waiter's re-read fails, then recovers.
    failing.store(true, Ordering::SeqCst);
    let now = || Timestamp::from_system_time(std::time::SystemTime::now());
    let open = m
        .store()
        .inner
        .get(id, now())
        .await
        .expect("get")
        .expect("open");
    m.store().wake(&open).await.expect("wake");
    tokio::time::sleep(Duration::from_millis(300)).await;
    failing.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Completed with its event lost (a deferred completion nobody wakes for).
    m.store()
        .complete(id, None, now(), oob::store::Wake::Later)
        .await
        .expect("complete");
    let outcome = waiting.await.expect("join").expect("wait");
    assert!(matches!(outcome, Outcome::Completed(_)), "{outcome:?}");
}

/// A waiter that first read the pending completed while its result was being persisted
/// (`complete_with`'s persist step still running) rides out failing re-reads too, and gets
/// `Completed` once the step ends. Before, only a waiter that had read the pending open
/// retried: one failed read ended this one with the store's error (found in review).
#[tokio::test]
async fn a_waiter_of_a_completion_being_persisted_rides_out_failing_re_reads() {
    let (m, failing) = manager();
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id();
    let (release, completing) = persisting(&m, p).await;
    let waiting = spawn_wait(&m, id, Duration::from_secs(10));
    tokio::time::sleep(Duration::from_millis(50)).await;
    failing.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(300)).await;
    failing.store(false, Ordering::SeqCst);
    let _ = release.send(());
    completing.await.expect("join").expect("complete_with");
    let outcome = waiting.await.expect("join").expect("the wait goes on");
    assert!(matches!(outcome, Outcome::Completed(_)), "{outcome:?}");
}

/// A wait that times out while a completion's persist step still runs answers `Completed`
/// (the pending is completed; what the step writes may not be there yet), not `TimedOut`,
/// which says the pending is still open (found in review).
#[tokio::test]
async fn a_wait_that_times_out_during_a_persist_step_answers_completed() {
    let (m, _failing) = manager_keeping(Duration::from_secs(300));
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id();
    // The step goes on while `_release` is held.
    let (_release, completing) = persisting(&m, p).await;
    let outcome = m.wait(id, Duration::from_millis(200)).await.expect("wait");
    assert!(matches!(outcome, Outcome::Completed(_)), "{outcome:?}");
    completing.abort();
}
