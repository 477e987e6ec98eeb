//! Lifecycle: waiters, dedup, capacity, expiry at the deadline, the sweeper.

use std::sync::Arc;
use std::time::Duration;

use oob::store::{MemoryStore, Scope};
use oob::{Error, Joined, Outcome, Spec};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_or_join_under_100_concurrent_callers_yields_one_pending() {
    let m = manager();
    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let m = m.clone();
            let b = barrier.clone();
            tokio::spawn(async move {
                b.wait().await;
                m.create_or_join(&user("a"), spec().alias("gh")).await
            })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    let mut created = 0;
    for t in tasks {
        let j = t.await.unwrap().unwrap();
        if matches!(j, Joined::Created(_)) {
            created += 1;
        }
        ids.insert(j.into_open().unwrap().id());
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1);
    assert_eq!(m.list(&user("a")).await.unwrap().len(), 1);
}

#[tokio::test]
async fn dedup_key_is_namespace_alias_and_resource() {
    let m = manager();
    let joins = async |who: &str, spec: Spec<DeviceCode>| {
        m.create_or_join(&user(who), spec)
            .await
            .unwrap()
            .is_joined()
    };
    let a = m
        .create_or_join(&user("a"), spec().alias("x"))
        .await
        .unwrap();
    assert!(!a.is_joined());
    let a = a.into_open().unwrap();
    assert!(joins("a", spec().alias("x")).await);
    // Another alias, resource or namespace creates anew.
    assert!(!joins("a", spec().alias("y")).await);
    assert!(!joins("a", spec().alias("x").resource("other")).await);
    assert!(!joins("b", spec().alias("x")).await);
    // A finished one is not joined.
    m.complete(a).await.unwrap();
    assert!(!joins("a", spec().alias("x")).await);
}

#[tokio::test(start_paused = true)]
async fn decline_cooldown_answers_with_the_decline() {
    let m = oob::Manager::builder()
        .store(MemoryStore::new())
        .provider(oob::provider::FromVerifiedSubject)
        .callback_base(oob::CallbackBase::parse("https://ex.com").unwrap())
        .clock(oob::time::TokioClock::new())
        .decline_cooldown(Duration::from_secs(60))
        .build();
    let p = m
        .create_or_join(&user("a"), spec().alias("x"))
        .await
        .unwrap()
        .into_open()
        .unwrap();
    let declined_id = p.id();
    m.decline(p).await.unwrap();
    match m
        .create_or_join(&user("a"), spec().alias("x"))
        .await
        .unwrap()
    {
        Joined::Declined(d) => assert_eq!(d.id(), declined_id),
        other => panic!("{other:?}"),
    }
    tokio::time::advance(Duration::from_secs(61)).await;
    assert!(matches!(
        m.create_or_join(&user("a"), spec().alias("x"))
            .await
            .unwrap(),
        Joined::Created(_)
    ));
}

#[tokio::test(start_paused = true)]
async fn capacity_errors_leave_the_store_unchanged() {
    let m = oob::Manager::builder()
        .store(MemoryStore::new())
        .provider(oob::provider::FromVerifiedSubject)
        .callback_base(oob::CallbackBase::parse("https://ex.com").unwrap())
        .clock(oob::time::TokioClock::new())
        .max_open_per_namespace(3)
        .max_open_total(5)
        .build();
    for _ in 0..3 {
        m.create(&user("a"), spec()).await.unwrap();
    }
    let before = m.store().len();
    assert!(matches!(
        m.create(&user("a"), spec()).await,
        Err(Error::Capacity(Scope::Namespace))
    ));
    assert!(matches!(
        m.create_or_join(&user("a"), spec().alias("new")).await,
        Err(Error::Capacity(Scope::Namespace))
    ));
    assert_eq!(m.store().len(), before);
    assert_eq!(m.list(&user("a")).await.unwrap().len(), 3);
    // Another namespace is not affected by a's bound, and cannot evict a's pendings.
    m.create(&user("b"), spec()).await.unwrap();
    m.create(&user("b"), spec()).await.unwrap();
    assert!(matches!(
        m.create(&user("c"), spec()).await,
        Err(Error::Capacity(Scope::Total))
    ));
    assert_eq!(m.list(&user("a")).await.unwrap().len(), 3);
    assert_eq!(m.store().len(), 5);
    // Finishing one frees a place; so does expiry.
    let one = m.list(&user("a")).await.unwrap().pop().unwrap();
    m.complete(one).await.unwrap();
    m.create(&user("a"), spec()).await.unwrap();
    tokio::time::advance(Duration::from_secs(601)).await;
    m.create(&user("c"), spec()).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_sweeper_purges_and_stops_when_dropped() {
    let m = manager_with(MemoryStore::new().with_retention(Duration::from_secs(10)));
    let p = m
        .create(&user("a"), spec().ttl(Duration::from_secs(5)))
        .await
        .unwrap();
    let q = m.create(&user("a"), spec()).await.unwrap();
    m.complete(q).await.unwrap();
    let sweeper = m.spawn_sweeper(Duration::from_secs(1));
    assert!(sweeper.is_running());
    tokio::time::sleep(Duration::from_secs(12)).await;
    // Completed at 0 + 10 s retention: gone; expired at 5 s + 10 s: not yet.
    assert_eq!(m.store().len(), 1);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(m.store().is_empty());
    assert!(matches!(m.get(p.id()).await, Err(Error::NotFound(_))));
    drop(sweeper);
    let r = m
        .create(&user("a"), spec().ttl(Duration::from_secs(1)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    // Nobody purges any more: the record stays stored, though reads no longer see it once
    // its retention window (after its deadline) has passed.
    assert_eq!(m.store().len(), 1);
    assert!(matches!(m.get(r.id()).await, Err(Error::NotFound(_))));
}

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
