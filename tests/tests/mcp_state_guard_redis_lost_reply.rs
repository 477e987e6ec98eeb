//! [`RedisStateGuard`] on a real Redis Cluster (three primaries, started by the test) when
//! the reply to a consume is lost: the primary of the nonce's slot is reached through a
//! proxy that forwards the `SET`, drops its reply and closes the connection, so the cluster
//! connection sends the `SET` again. The guard must still report the first use (`Ok`), not
//! a replay.
//!
//! Without `redis-server` installed the test skips with a notice (unless `CI` is set: then
//! it fails).

use std::time::{Duration, SystemTime};

use oob::mcp::{GuardError, RedisStateGuard, StateGuard};
use oob::store::RedisTarget;
use oob_tests::lost_reply::{LostReplyProxy, port_of};
use oob_tests::redis_cluster::{RedisCluster, key_slot};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_a_retried_consume_whose_first_reply_was_lost_is_the_first_use() {
    let Some(cluster) = RedisCluster::start(3, 0) else {
        return;
    };
    let urls = cluster.urls();
    let nonce = "lost-reply";
    let key = format!("{}{nonce}", RedisStateGuard::DEFAULT_PREFIX);
    let primary = cluster.primary_of(key_slot(&key)).expect("a primary");
    // The primary of the key's slot announces the proxy as its address, so the cluster
    // connection reaches it through the proxy.
    let proxy = LostReplyProxy::start(port_of(&urls[primary])).await;
    proxy.announce(&urls[primary]).await;
    proxy.arm(nonce);
    let mut admin = redis::Client::open(urls[primary].as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();

    let target = RedisTarget::cluster([urls[primary].clone()]).expect("cluster target");
    let g = RedisStateGuard::connect(target).await.expect("connect");
    let exp = SystemTime::now() + Duration::from_secs(600);
    // The SET is applied, its reply lost, the connection dropped; the cluster connection
    // sends it again, and Redis answers with the token the first attempt stored.
    g.consume(nonce, exp).await.expect("the first use");
    assert_eq!(proxy.lost(), 1, "the proxy lost the reply");
    let stored: Vec<u8> = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(stored.len(), 16);
    // A later consume is a replay, as always.
    assert!(matches!(
        g.consume(nonce, exp).await,
        Err(GuardError::Replayed)
    ));
}
