//! The store conformance suite against [`RedisStore`] on a Redis Cluster (three primaries,
//! no replicas) started for this binary; every store gets its own hash-tagged prefix, so
//! the stores spread over the cluster's slots and the client follows redirections.
//!
//! Without Redis installed the whole binary skips with a notice (unless `CI` is set: then
//! it fails).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use oob::store::RedisStore;
use oob_tests::DeviceCode;
use oob_tests::redis_cluster::RedisCluster;

static CLUSTER: OnceLock<Option<RedisCluster>> = OnceLock::new();
static SEQ: AtomicUsize = AtomicUsize::new(0);

async fn make(retention: Duration) -> RedisStore<DeviceCode> {
    let Some(cluster) = CLUSTER.get_or_init(|| RedisCluster::start(3, 0)) else {
        // No Redis and not in CI: nothing here can run.
        std::process::exit(0);
    };
    cluster
        .store_builder()
        .prefix(format!("{{t{}}}:", SEQ.fetch_add(1, Ordering::SeqCst)))
        .retention(retention)
        .connect()
        .await
        .expect("connect")
}

oob_tests::store_conformance!(make);
