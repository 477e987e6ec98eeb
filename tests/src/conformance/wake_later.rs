//! Conformance case: a deferred wake-up with zero retention.

use super::*;

/// With zero retention, a record completed with [`Wake::Later`] stays readable (completed)
/// until [`Store::wake`]: a retry before the wake-up (the manager's persist step runs in
/// between) reads the outcome, not "not found"; once woken, it is gone for every read.
pub async fn zero_retention_wake_later_keeps_the_record_until_wake<S: Store<DeviceCode> + Clone>(
    store: S,
) {
    let (m, clock) = setup(store.clone());
    let now = clock.now();
    let r = m.create(&user("a"), spec()).await.expect("create");
    let done = store
        .complete(r.id(), Some(&ns("a")), now, Wake::Later)
        .await
        .expect("complete");
    let read = store
        .get(r.id(), now)
        .await
        .expect("get")
        .expect("kept until the wake-up");
    assert_eq!(read.state, RecordState::Completed { at: now });
    assert!(matches!(
        store
            .complete(r.id(), Some(&ns("a")), now, Wake::Later)
            .await,
        Err(TransitionError::Finished(Finished::Completed))
    ));
    store.wake(&done).await.expect("wake");
    assert!(store.get(r.id(), now).await.expect("get").is_none());
    assert!(matches!(
        store.complete(r.id(), None, now, Wake::Now).await,
        Err(TransitionError::NotFound)
    ));
}
