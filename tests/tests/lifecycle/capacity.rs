//! Capacity: the per-namespace and total bounds on open pendings.

use std::time::Duration;

use oob::Error;
use oob::store::{MemoryStore, Scope};
use oob_tests::*;

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
