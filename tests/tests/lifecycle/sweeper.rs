//! The sweeper: purges finished records after their retention, and stops when dropped.

use std::time::Duration;

use oob::Error;
use oob::store::MemoryStore;
use oob_tests::*;

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
