//! A change event that carries a record of another namespace than the pending a waiter read
//! (a forged `Store::wake`, a `PUBLISH` or `NOTIFY` by anyone who can reach the backend)
//! does not answer the waiter: it re-reads. Before, the waiter was told `Completed` with
//! the forger's namespace and data while the store held the pending open (found in the
//! contract review), and, once that was fixed, still when it had first read the pending
//! completed while its persist step ran (found in the re-review).

use std::sync::Arc;
use std::time::Duration;

use oob::store::{Body, MemoryStore, Record, RecordState, Store};
use oob::time::{Clock, SystemClock};
use oob::{Outcome, PendingId};
use oob_tests::{
    DeviceCode, TestManager, device_code, manager_with, persisting, spawn_wait, spec, user,
};

/// Starts a waiter on `id` and forges, once it has read the record, a completion of `id`
/// in mallory's namespace through the store's `wake`; returns the waiter.
async fn forged_after_a_read(
    m: &TestManager,
    id: PendingId,
    within: Duration,
) -> tokio::task::JoinHandle<Result<Outcome<DeviceCode>, oob::Error>> {
    let waiting = spawn_wait(m, id, within);
    while m.store().watched() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Let the waiter read the record before the forged event comes.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let now = SystemClock.now();
    let forged = Record::new(
        id,
        "mallory".parse().expect("namespace"),
        now,
        now.saturating_add(Duration::from_secs(60)),
        RecordState::Completed { at: now },
        Arc::new(Body::new(device_code(), None, None, None)),
    );
    m.store().wake(&forged).await.expect("wake");
    waiting
}

fn alices(outcome: Outcome<DeviceCode>) {
    match outcome {
        Outcome::Completed(done) => assert_eq!(done.namespace().as_str(), "alice"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_event_of_another_namespace_does_not_answer_a_waiter() {
    let m = manager_with(MemoryStore::new());
    let p = m.create(&user("alice"), spec()).await.expect("create");
    let id = p.id();
    let waiting = forged_after_a_read(&m, id, Duration::from_millis(500)).await;
    let outcome = waiting.await.expect("join").expect("wait");
    assert!(matches!(outcome, Outcome::TimedOut), "{outcome:?}");
    // The real completion still answers.
    let waiting = spawn_wait(&m, id, Duration::from_secs(5));
    m.complete(p).await.expect("complete");
    alices(waiting.await.expect("join").expect("wait"));
}

/// The same while the pending's completion is being persisted: a waiter that first read it
/// completed gets the real outcome once the persist step ends.
#[tokio::test]
async fn an_event_of_another_namespace_does_not_answer_a_waiter_of_a_persisting_completion() {
    let m = manager_with(MemoryStore::new());
    let p = m.create(&user("alice"), spec()).await.expect("create");
    let id = p.id();
    let (release, completing) = persisting(&m, p).await;
    let waiting = forged_after_a_read(&m, id, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _ = release.send(());
    completing.await.expect("join").expect("complete_with");
    alices(waiting.await.expect("join").expect("wait"));
}
