//! `wait_for_replicas`: a `WAIT` that cannot be satisfied (here: a server with no replica)
//! holds only the store's writes, not its reads, and ends in a typed error.
//!
//! Without `redis-server` installed the binary skips with a notice (unless `CI` is set:
//! then it fails).

use std::time::Duration;

use oob::provider::FromVerifiedSubject;
use oob::store::RedisStore;
use oob::store::redis::RedisStoreError;
use oob::time::SystemClock;
use oob::{CallbackBase, Error, Manager};
use oob_tests::redis_server::RedisServer;
use oob_tests::{DeviceCode, spec, user};

type M = Manager<DeviceCode, RedisStore<DeviceCode>, FromVerifiedSubject>;

async fn manager(server: &RedisServer, replicas: Option<Duration>) -> M {
    let client = redis::Client::open(server.url()).expect("client");
    let mut b = RedisStore::builder(client)
        .prefix("{wait}:")
        .response_timeout(Duration::from_secs(120));
    if let Some(timeout) = replicas {
        b = b.wait_for_replicas(1, timeout);
    }
    Manager::builder()
        .store(b.connect().await.expect("connect"))
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .clock(SystemClock)
        .build()
}

/// A bound that turns a hang into a failure; never a speed assertion.
const HANG: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_waiting_write_does_not_hold_reads() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let plain = manager(&server, None).await;
    let waiting = manager(&server, Some(Duration::from_secs(90))).await;
    let existing = plain.create(&user("a"), spec()).await.expect("create");
    // No replica acknowledges: this create waits (90 s) for one.
    let write = {
        let m = waiting.clone();
        tokio::spawn(async move { m.create(&user("b"), spec()).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Meanwhile reads and lists on the same store answer (on one shared connection they
    // would queue behind the WAIT for its 90 s).
    let read = tokio::time::timeout(HANG, waiting.get(existing.id()))
        .await
        .expect("the read waited for the write's WAIT");
    assert!(read.is_ok(), "{read:?}");
    let listed = tokio::time::timeout(HANG, waiting.list(&user("a")))
        .await
        .expect("the list waited for the write's WAIT");
    assert_eq!(listed.expect("list").len(), 1);
    assert!(!write.is_finished(), "the write did not wait");
    write.abort();
}

#[tokio::test]
async fn an_unreplicated_write_is_a_typed_error() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let waiting = manager(&server, Some(Duration::from_millis(100))).await;
    let written = waiting.create(&user("b"), spec()).await;
    let not_replicated = matches!(&written, Err(Error::Store(s))
        if std::error::Error::source(s)
            .and_then(|e| e.downcast_ref::<RedisStoreError>())
            .is_some_and(|e| matches!(e, RedisStoreError::NotReplicated { acked: 0, wanted: 1 })));
    assert!(not_replicated, "{written:?}");
}
