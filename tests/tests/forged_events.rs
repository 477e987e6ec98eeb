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

/// The same while the pending's completion is being persisted: a waiter that first read it
/// completed is not answered by an event of another namespace either, and gets the real
/// outcome once the persist step ends (found in the re-review: the filter only applied
/// once the waiter had read the pending open).
#[tokio::test]
async fn an_event_of_another_namespace_does_not_answer_a_waiter_of_a_persisting_completion() {
    let m = Manager::builder()
        .store(MemoryStore::<DeviceCode>::new())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .build();
    let p = m.create(&user("alice"), spec()).await.expect("create");
    let id = p.id();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let completing = tokio::spawn({
        let m = m.clone();
        async move {
            m.complete_with(p, async move |_t| {
                let _ = released.await;
                Ok::<_, std::io::Error>(())
            })
            .await
        }
    });
    while !matches!(m.get(id).await, Ok(oob::AnyPending::Completed(_))) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let waiting = spawn_wait(&m, id, Duration::from_secs(5));
    while m.store().watched() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
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
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _ = release.send(());
    completing.await.expect("join").expect("complete_with");
    match waiting.await.expect("join").expect("wait") {
        Outcome::Completed(done) => assert_eq!(done.namespace().as_str(), "alice"),
        other => panic!("{other:?}"),
    }
}
