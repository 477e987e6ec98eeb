//! Conformance case: a deferred wake-up with zero retention.

use super::*;
use oob::store::lifecycle::WAKE_GRACE;

/// With zero retention, a record completed with [`Wake::Later`] stays readable (completed)
/// until [`Store::wake`]: a retry before the wake-up (the manager's persist step runs in
/// between) reads the outcome, not "not found"; once woken, it is gone for every read.
pub async fn zero_retention_wake_later_keeps_the_record_until_wake<S: Store<DeviceCode> + Clone>(
    store: S,
) {
    let (done, now) = completed_awaiting_wake(&store).await;
    let read = store
        .get(done.id, now)
        .await
        .expect("get")
        .expect("kept until the wake-up");
    assert_eq!(read.state, RecordState::Completed { at: now });
    assert!(matches!(
        store
            .complete(done.id, Some(&ns("a")), now, Wake::Later)
            .await,
        Err(TransitionError::Finished(Finished::Completed))
    ));
    store.wake(&done).await.expect("wake");
    assert!(store.get(done.id, now).await.expect("get").is_none());
    assert!(matches!(
        store.complete(done.id, None, now, Wake::Now).await,
        Err(TransitionError::NotFound)
    ));
}

/// With zero retention, a purge between a complete with [`Wake::Later`] and the wake-up
/// leaves the record readable (the manager's persist step runs in between: a waiter that
/// re-reads then finds the outcome, not "removed"); [`WAKE_GRACE`] after it finished no
/// read sees it, purged or not, and a purge then removes it (a completer that died before
/// its wake-up), and a late wake-up of the removed record still succeeds.
pub async fn zero_retention_purge_keeps_a_record_awaiting_wake<S: Store<DeviceCode> + Clone>(
    store: S,
) {
    let (done, now) = completed_awaiting_wake(&store).await;
    assert_eq!(store.purge(now).await.expect("purge"), 0);
    let read = store
        .get(done.id, now)
        .await
        .expect("get")
        .expect("a purge keeps the record until the wake-up");
    assert_eq!(read.state, RecordState::Completed { at: now });
    let before = now.saturating_add(WAKE_GRACE - Duration::from_millis(1));
    assert_eq!(store.purge(before).await.expect("purge"), 0);
    assert!(store.get(done.id, before).await.expect("get").is_some());
    let after = now.saturating_add(WAKE_GRACE);
    assert!(
        store.get(done.id, after).await.expect("get").is_none(),
        "hidden once WAKE_GRACE has passed, before any purge"
    );
    assert!(matches!(
        store.complete(done.id, None, after, Wake::Now).await,
        Err(TransitionError::NotFound)
    ));
    assert_eq!(store.purge(after).await.expect("purge"), 1);
    assert!(
        store.get(done.id, after).await.expect("get").is_none(),
        "removed once WAKE_GRACE has passed"
    );
    store.wake(&done).await.expect("a late wake-up");
}

/// A record of namespace `a` completed with [`Wake::Later`] (its wake-up not yet called),
/// and the time of the completion.
async fn completed_awaiting_wake<S: Store<DeviceCode> + Clone>(
    store: &S,
) -> (oob::store::Record<DeviceCode>, Timestamp) {
    let (m, clock) = setup(store.clone());
    let now = clock.now();
    let r = m.create(&user("a"), spec()).await.expect("create");
    let done = store
        .complete(r.id(), Some(&ns("a")), now, Wake::Later)
        .await
        .expect("complete");
    (done, now)
}
