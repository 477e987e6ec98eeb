//! Waiters: woken by a completion, typed outcomes, timeouts, expiry at the deadline, clears,
//! drops, zero retention, ten thousand at once.

use std::sync::Arc;
use std::time::Duration;

use oob::Outcome;
use oob::store::MemoryStore;
use oob_tests::*;

#[tokio::test]
async fn waiter_is_woken_by_a_completion_on_another_task() {
    let m = manager();
    let p = m.create(&user("a"), spec()).await.unwrap();
    let id = p.id();
    let waiter = spawn_wait(&m, id, Duration::from_secs(30));
    tokio::task::yield_now().await;
    m.complete(p).await.unwrap();
    match waiter.await.unwrap().unwrap() {
        Outcome::Completed(done) => {
            assert_eq!(done.id(), id);
            assert_eq!(done.namespace().as_str(), "a");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(m.store().watched(), 0);
}

#[tokio::test]
async fn outcomes_are_typed() {
    let m = manager();
    let c = m.create(&user("a"), spec()).await.unwrap();
    let d = m.create(&user("a"), spec()).await.unwrap();
    let (cid, did) = (c.id(), d.id());
    let wc = spawn_wait(&m, cid, Duration::from_secs(30));
    let wd = spawn_wait(&m, did, Duration::from_secs(30));
    tokio::task::yield_now().await;
    m.cancel(c).await.unwrap();
    m.decline(d).await.unwrap();
    assert!(matches!(wc.await.unwrap().unwrap(), Outcome::Cancelled(p) if !p.is_declined()));
    assert!(matches!(wd.await.unwrap().unwrap(), Outcome::Declined(p) if p.is_declined()));
}

#[tokio::test(start_paused = true)]
async fn wait_times_out_and_leaves_the_pending_open() {
    let m = manager();
    let p = m.create(&user("a"), spec()).await.unwrap();
    let started = tokio::time::Instant::now();
    let out = m.wait(p.id(), Duration::from_secs(5)).await.unwrap();
    assert!(matches!(out, Outcome::TimedOut));
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert!(m.open(p.id()).await.is_ok());
    assert_eq!(m.store().watched(), 0);
}

#[tokio::test]
async fn a_waiter_after_the_outcome_still_gets_it() {
    let m = manager();
    let p = m.create(&user("a"), spec()).await.unwrap();
    let id = p.id();
    m.complete(p).await.unwrap();
    assert!(matches!(
        m.wait(id, Duration::from_secs(1)).await.unwrap(),
        Outcome::Completed(_)
    ));
}

#[tokio::test]
async fn with_zero_retention_waiters_still_get_the_outcome() {
    let m = manager_with(MemoryStore::new().with_retention(Duration::ZERO));
    let p = m.create(&user("a"), spec()).await.unwrap();
    let id = p.id();
    let w = spawn_wait(&m, id, Duration::from_secs(30));
    tokio::task::yield_now().await;
    m.complete(p).await.unwrap();
    assert!(matches!(w.await.unwrap().unwrap(), Outcome::Completed(_)));
    assert!(m.store().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_waiters_on_one_pending_all_wake() {
    let m = manager();
    let p = m.create(&user("a"), spec()).await.unwrap();
    let id = p.id();
    let ready = Arc::new(tokio::sync::Barrier::new(10_001));
    let waiters: Vec<_> = (0..10_000)
        .map(|_| {
            let m = m.clone();
            let ready = ready.clone();
            tokio::spawn(async move {
                let fut = m.wait(id, Duration::from_secs(60));
                tokio::pin!(fut);
                // Poll once so the subscription exists before we signal readiness.
                tokio::select! {
                    biased;
                    out = &mut fut => return out,
                    () = std::future::ready(()) => {}
                }
                ready.wait().await;
                fut.await
            })
        })
        .collect();
    ready.wait().await;
    m.complete(p).await.unwrap();
    let mut completed = 0;
    for w in waiters {
        if let Outcome::Completed(_) = w.await.unwrap().unwrap() {
            completed += 1;
        }
    }
    assert_eq!(completed, 10_000);
    assert_eq!(m.store().watched(), 0);
}

#[tokio::test(start_paused = true)]
async fn expiry_wakes_waiters_at_the_deadline() {
    let m = manager();
    let p = m
        .create(&user("a"), spec().ttl(Duration::from_secs(90)))
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let out = m.wait(p.id(), Duration::from_secs(3600)).await.unwrap();
    let waited = started.elapsed();
    match out {
        Outcome::Expired(e) => assert_eq!(e.id(), p.id()),
        other => panic!("{other:?}"),
    }
    // At the deadline (to the millisecond the waiter adds), with no sweeper running.
    assert!(waited >= Duration::from_secs(90), "{waited:?}");
    assert!(waited <= Duration::from_millis(90_002), "{waited:?}");
}

#[tokio::test]
async fn clearing_a_namespace_ends_its_waiters() {
    let m = manager();
    let p = m.create(&user("a"), spec()).await.unwrap();
    let id = p.id();
    let w = spawn_wait(&m, id, Duration::from_secs(30));
    tokio::task::yield_now().await;
    m.clear(&user("a")).await.unwrap();
    assert!(matches!(w.await.unwrap().unwrap(), Outcome::Removed(x) if x == id));
    // So does an operator's clear of the namespace by name.
    let q = m.create(&user("a"), spec()).await.unwrap();
    let qid = q.id();
    let w = spawn_wait(&m, qid, Duration::from_secs(30));
    while m.store().watched() == 0 {
        tokio::task::yield_now().await;
    }
    assert_eq!(m.operator().clear_namespace(&ns("a")).await.unwrap(), 1);
    assert!(matches!(w.await.unwrap().unwrap(), Outcome::Removed(x) if x == qid));
}

#[tokio::test]
async fn dropping_waiters_leaks_nothing() {
    let m = manager();
    let p = m.create(&user("a"), spec()).await.unwrap();
    let id = p.id();
    let handles: Vec<_> = (0..100)
        .map(|_| spawn_wait(&m, id, Duration::from_secs(60)))
        .collect();
    while m.store().watched() == 0 {
        tokio::task::yield_now().await;
    }
    for h in &handles {
        h.abort();
    }
    for h in handles {
        let _ = h.await;
    }
    assert_eq!(m.store().watched(), 0);
}

/// A waiter racing a zero-retention completion on another thread (subscribed, but not yet
/// read) still gets the outcome: the store notifies before the record can be seen missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_retention_completion_racing_a_waiter_never_loses_the_outcome() {
    let m = manager_with(MemoryStore::new().with_retention(Duration::ZERO));
    for i in 0..2_000 {
        let p = m.create(&user("a"), spec()).await.unwrap();
        let id = p.id();
        let w = spawn_wait(&m, id, Duration::from_secs(10));
        while m.store().watched() == 0 {
            tokio::task::yield_now().await;
        }
        m.complete(p).await.unwrap();
        match w.await.unwrap() {
            Ok(Outcome::Completed(done)) => assert_eq!(done.id(), id),
            other => panic!("iteration {i}: {other:?}"),
        }
    }
    assert!(m.store().is_empty());
}
