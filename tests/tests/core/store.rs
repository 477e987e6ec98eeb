//! The store's own transitions (expiry and namespace checked at the given time) and its
//! retention window.

use std::time::Duration;

use oob::Error;
use oob::store::{Finished, MemoryStore, RecordState, Store, Wake};
use oob::time::Timestamp;
use oob_tests::*;

#[tokio::test]
async fn store_transitions_check_expiry_and_namespace() {
    let m = manager();
    let p = m
        .create(&user("a"), spec().ttl(Duration::from_secs(100)))
        .await
        .unwrap();
    let store = m.store();
    let id = p.id();
    let created = Timestamp::from_system_time(p.created_at());
    let early = created.saturating_add(Duration::from_secs(50));
    let late = Timestamp::from_system_time(p.expires_at());
    assert_eq!(late, created.saturating_add(Duration::from_secs(100)));
    assert!(matches!(
        store.complete(id, Some(&ns("b")), early, Wake::Now).await,
        Err(oob::store::TransitionError::NamespaceMismatch)
    ));
    let a = user("a");
    let token = m.caller(&a).unwrap();
    assert_eq!(
        store
            .list_namespace(token.scope(), early)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store.get(id, late).await.unwrap().unwrap().state,
        RecordState::Expired { at: late }
    );
    assert!(matches!(
        store.complete(id, None, late, Wake::Now).await,
        Err(oob::store::TransitionError::Finished(Finished::Expired))
    ));
    assert!(
        store
            .list_namespace(token.scope(), late)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn retention_window_then_purge() {
    let m = manager_with(MemoryStore::new().with_retention(Duration::from_secs(10)));
    let p = m.create(&user("a"), spec()).await.unwrap();
    let store = m.store();
    let id = p.id();
    let t0 = Timestamp::from_system_time(p.created_at()).saturating_add(Duration::from_secs(1));
    store.complete(id, None, t0, Wake::Now).await.unwrap();
    let within = t0.saturating_add(Duration::from_secs(9));
    let after = t0.saturating_add(Duration::from_secs(10));
    assert_eq!(store.purge(within).await.unwrap(), 0);
    assert!(matches!(
        store.get(id, within).await.unwrap().unwrap().state,
        RecordState::Completed { .. }
    ));
    assert_eq!(store.purge(after).await.unwrap(), 1);
    assert!(store.get(id, after).await.unwrap().is_none());
    assert!(store.is_empty());
}

#[tokio::test]
async fn zero_retention_forgets_at_once() {
    let m = manager_with(MemoryStore::new().with_retention(Duration::ZERO));
    let p = m.create(&user("a"), spec()).await.unwrap();
    let id = p.id();
    m.complete(p).await.unwrap();
    assert!(m.store().is_empty());
    assert!(matches!(m.get(id).await, Err(Error::NotFound(_))));
}
