//! `complete_with`: the persist step runs before any waiter wakes, a failed or dropped one
//! still wakes them, and a waiter starting during it answers after it.

use std::time::Duration;

use oob::store::MemoryStore;
use oob::{Error, Outcome};
use oob_tests::*;

/// `complete_with` persists before it wakes: the woken waiter always finds the result.
async fn persisted_before_the_waiter_wakes(m: TestManager) {
    use oob::vault::{MemoryVault, Vault};
    let vault = MemoryVault::<String>::new();
    let p = m.create(&user("a"), spec()).await.unwrap();
    let id = p.id();
    let waiter = tokio::spawn({
        let (m, vault) = (m.clone(), vault.clone());
        async move {
            match m.wait(id, Duration::from_secs(30)).await.unwrap() {
                Outcome::Completed(done) => {
                    assert_eq!(done.namespace(), &ns("a"));
                    // The woken tool call reads with its own verified caller's capability.
                    let cx = user("a");
                    let token = m.caller(&cx).unwrap();
                    vault.get(&token, "key").await.unwrap()
                }
                other => panic!("{other:?}"),
            }
        }
    });
    // Let the waiter subscribe, read the open state and park (one thread: deterministic).
    while m.store().watched() == 0 {
        tokio::task::yield_now().await;
    }
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let writer = vault.clone();
    let (done, n) = m
        .complete_with(p, async move |token| {
            // Give the waiter every chance to run early, as a slow database write would.
            for _ in 0..50 {
                tokio::task::yield_now().await;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            writer.put(&token, "key", "sk-a".into()).await.map(|()| 7)
        })
        .await
        .unwrap();
    assert_eq!((done.id(), n), (id, 7));
    assert_eq!(waiter.await.unwrap().as_deref(), Some("sk-a"));
    let (a, b) = (user("a"), user("b"));
    assert_eq!(
        vault
            .get(&m.caller(&a).unwrap(), "key")
            .await
            .unwrap()
            .as_deref(),
        Some("sk-a")
    );
    assert_eq!(
        vault.get(&m.caller(&b).unwrap(), "key").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn complete_with_wakes_waiters_only_after_persisting() {
    persisted_before_the_waiter_wakes(manager()).await;
    persisted_before_the_waiter_wakes(manager_with(
        MemoryStore::new().with_retention(Duration::ZERO),
    ))
    .await;
}

#[tokio::test]
async fn complete_with_reports_a_failed_persist_and_still_wakes() {
    let m = manager();
    let p = m.create(&user("a"), spec()).await.unwrap();
    let id = p.id();
    let waiter = spawn_wait(&m, id, Duration::from_secs(30));
    tokio::task::yield_now().await;
    let err = m
        .complete_with(p, async |_token| {
            Err::<(), _>(std::io::Error::other("disk full"))
        })
        .await
        .unwrap_err();
    match &err {
        Error::Persist { id: got, source } => {
            assert_eq!(*got, id);
            assert_eq!(source.to_string(), "disk full");
        }
        other => panic!("{other:?}"),
    }
    assert!(std::error::Error::source(&err).is_some());
    // The user did act: the pending is completed and its waiter woke with that outcome.
    assert!(matches!(
        waiter.await.unwrap().unwrap(),
        Outcome::Completed(_)
    ));
    // Only the winner persists: a second completion is refused before `persist` runs.
    let again = m.get(id).await.unwrap();
    assert!(matches!(again, oob::AnyPending::Completed(_)));
}

/// A `complete_with` whose caller goes away while persisting (a disconnected HTTP client
/// drops the handler's future) still wakes the waiters, instead of leaving them to the
/// deadline.
#[tokio::test]
async fn a_dropped_complete_with_still_wakes_its_waiters() {
    let m = manager();
    let p = m.create(&user("a"), spec()).await.unwrap();
    let id = p.id();
    let waiter = spawn_wait(&m, id, Duration::from_secs(300));
    while m.store().watched() == 0 {
        tokio::task::yield_now().await;
    }
    let dropped = tokio::time::timeout(
        Duration::from_millis(50),
        m.complete_with(p, async |_token| {
            std::future::pending::<Result<(), std::io::Error>>().await
        }),
    )
    .await;
    assert!(dropped.is_err(), "the persist step never finishes");
    let out = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("woken at once, not at the deadline")
        .unwrap()
        .unwrap();
    assert!(matches!(out, Outcome::Completed(_)), "{out:?}");
}

/// A waiter that starts while the winning completion is still persisting (its first read
/// already sees the record completed) answers only once the persist step is done, so what
/// it reads next is there. Fails on a manager that answers at that first read.
#[tokio::test]
async fn a_waiter_starting_during_the_persist_step_answers_after_it() {
    use oob::vault::{MemoryVault, Vault};
    use tokio::sync::oneshot;
    let m = manager();
    let vault = MemoryVault::<String>::new();
    let p = m.create(&user("a"), spec()).await.unwrap();
    let id = p.id();
    let (started_tx, started) = oneshot::channel::<()>();
    let (release, released) = oneshot::channel::<()>();
    let completer = tokio::spawn({
        let (m, writer) = (m.clone(), vault.clone());
        async move {
            m.complete_with(p, async move |token| {
                let _ = started_tx.send(());
                let _ = released.await;
                writer.put(&token, "key", "sk-a".into()).await
            })
            .await
            .map(|_| ())
        }
    });
    started.await.unwrap();
    // The store already holds the record as completed.
    assert!(matches!(m.get(id).await, Ok(oob::AnyPending::Completed(_))));
    let waiter = tokio::spawn({
        let (m, vault) = (m.clone(), vault.clone());
        async move {
            let out = m.wait(id, Duration::from_secs(30)).await.unwrap();
            assert!(matches!(out, Outcome::Completed(_)), "{out:?}");
            vault
                .get(&m.caller(&user("a")).unwrap(), "key")
                .await
                .unwrap()
        }
    });
    // While the persist step is held, the waiter has not answered.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiter.is_finished(),
        "answered before the persist step ended"
    );
    release.send(()).unwrap();
    completer.await.unwrap().unwrap();
    assert_eq!(waiter.await.unwrap().as_deref(), Some("sk-a"));
}
