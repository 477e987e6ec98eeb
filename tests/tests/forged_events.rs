//! A change event that carries a record of another namespace than the pending a waiter read
//! open (a forged `Store::wake`, a `PUBLISH` or `NOTIFY` by anyone who can reach the
//! backend) does not answer the waiter: it re-reads. Before, the waiter was told
//! `Completed` with the forger's namespace and data while the store held the pending open
//! (found in the contract review).

use std::sync::Arc;
use std::time::Duration;

use oob::provider::FromVerifiedSubject;
use oob::store::{Body, MemoryStore, Record, RecordState, Store};
use oob::time::{Clock, SystemClock};
use oob::{CallbackBase, Manager, Outcome};
use oob_tests::{DeviceCode, device_code, spawn_wait, spec, user};

#[tokio::test]
async fn an_event_of_another_namespace_does_not_answer_a_waiter() {
    let m = Manager::builder()
        .store(MemoryStore::<DeviceCode>::new())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .build();
    let p = m.create(&user("alice"), spec()).await.expect("create");
    let id = p.id();
    let waiting = spawn_wait(&m, id, Duration::from_millis(500));
    while m.store().watched() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Let the waiter read the pending open before the forged event comes.
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
    let outcome = waiting.await.expect("join").expect("wait");
    assert!(matches!(outcome, Outcome::TimedOut), "{outcome:?}");
    // The real completion still answers.
    let waiting = spawn_wait(&m, id, Duration::from_secs(5));
    m.complete(p).await.expect("complete");
    let outcome = waiting.await.expect("join").expect("wait");
    match outcome {
        Outcome::Completed(done) => assert_eq!(done.namespace().as_str(), "alice"),
        other => panic!("{other:?}"),
    }
}
