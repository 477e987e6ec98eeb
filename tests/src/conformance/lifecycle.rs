//! Conformance cases: expiry, retention, purge, zero retention and racing completers.

use super::*;

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

/// A transition expecting another namespace is a mismatch whatever the record's state
/// (completed, declined, expired), so it tells another user nothing of how the record
/// ended, at the manager and at the store; past the retention window the record is not
/// found, for any caller. The owner still learns how it ended.
pub async fn another_namespace_learns_nothing_of_the_state<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = setup(store.clone());
    let alice = user("alice");
    let mallory = ns("mallory");
    let ttl = spec().ttl(Duration::from_secs(10));
    let done = m.create(&alice, ttl.clone()).await.expect("create");
    let declined = m.create(&alice, ttl.clone()).await.expect("create");
    let expiring = m.create(&alice, ttl).await.expect("create");
    let (done, declined, expiring) = (done.id(), declined.id(), expiring.id());
    m.complete_in(done, &ns("alice")).await.expect("complete");
    m.cancel_id(declined, CancelReason::Declined, None)
        .await
        .expect("decline");
    clock.advance(Duration::from_secs(10));
    for id in [done, declined, expiring] {
        let r = m.complete_in(id, &mallory).await;
        assert!(
            matches!(r, Err(Error::NamespaceMismatch(x)) if x == id),
            "{r:?}"
        );
        let r = m
            .cancel_id(id, CancelReason::Cancelled, Some(&mallory))
            .await;
        assert!(matches!(r, Err(Error::NamespaceMismatch(_))), "{r:?}");
        let r = store
            .complete(id, Some(&mallory), clock.now(), Wake::Now)
            .await;
        assert!(
            matches!(r, Err(TransitionError::NamespaceMismatch)),
            "{r:?}"
        );
    }
    // The owner is told how each ended.
    assert!(matches!(
        m.complete_in(done, &ns("alice")).await,
        Err(Error::Finished { .. })
    ));
    assert!(matches!(
        m.complete_in(expiring, &ns("alice")).await,
        Err(Error::Expired(_))
    ));
    // Past the retention window: not found, whoever asks.
    clock.advance(RETENTION);
    for id in [done, declined, expiring] {
        for who in [&mallory, &ns("alice")] {
            let r = m.complete_in(id, who).await;
            assert!(matches!(r, Err(Error::NotFound(x)) if x == id), "{r:?}");
        }
    }
}
