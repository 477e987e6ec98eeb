//! Two stores of different retention on one schema, as during a rolling deploy to zero
//! retention: an expired record that the store with a retention moved to `finished` (a
//! create at a bound does) is gone at its deadline for the store without one too, as
//! `lifecycle::visible` says, and that store's purge removes it. Before, it read as
//! expired (and told another namespace `NamespaceMismatch`) until `WAKE_GRACE` later.

use std::time::SystemTime;

use super::*;
use oob::provider::FromVerifiedSubject;
use oob::store::{RecordState, Store, TransitionError, Wake};
use oob::time::Timestamp;
use oob::{CallbackBase, Manager};
use oob_tests::{ns, spec, user};

#[tokio::test]
async fn an_expired_row_moved_by_a_store_with_retention_is_gone_for_one_without() {
    let schema = fresh_schema();
    let keep =
        PostgresServer::store(&server().pool(4).await, &schema, Duration::from_secs(300)).await;
    let zero = PostgresServer::store(&server().pool(4).await, &schema, Duration::ZERO).await;
    let m = Manager::builder()
        .store(keep.clone())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .max_open_per_namespace(1)
        .build();
    let x = m
        .create(&user("a"), spec().ttl(Duration::from_millis(300)))
        .await
        .expect("create")
        .id();
    tokio::time::sleep(Duration::from_millis(400)).await;
    m.create(&user("a"), spec())
        .await
        .expect("a create at the bound, which moves the expired row");
    let now = Timestamp::from_system_time(SystemTime::now());
    let kept = keep.get(x, now).await.expect("get").expect("retained");
    assert!(matches!(kept.state, RecordState::Expired { .. }));

    assert!(zero.get(x, now).await.expect("get").is_none());
    assert!(matches!(
        zero.complete(x, Some(&ns("b")), now, Wake::Now).await,
        Err(TransitionError::NotFound)
    ));
    assert_eq!(zero.purge(now).await.expect("purge"), 1);
    assert!(keep.get(x, now).await.expect("get").is_none(), "purged");
}
