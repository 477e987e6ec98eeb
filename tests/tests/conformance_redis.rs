//! The store conformance suite against [`RedisStore`], on one `redis-server` per test
//! binary; every store gets its own key prefix.
//!
//! Without `redis-server` installed the whole binary skips with a notice (unless `CI` is
//! set: then it fails).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use oob::store::RedisStore;
use oob_tests::DeviceCode;
use oob_tests::redis_server::RedisServer;

static SERVER: OnceLock<Option<RedisServer>> = OnceLock::new();
static SEQ: AtomicUsize = AtomicUsize::new(0);

async fn make(retention: Duration) -> RedisStore<DeviceCode> {
    let Some(server) = SERVER.get_or_init(RedisServer::start) else {
        // No redis-server and not in CI: nothing here can run.
        std::process::exit(0);
    };
    let client = redis::Client::open(server.url()).expect("client");
    RedisStore::builder(client)
        .prefix(format!("t{}:", SEQ.fetch_add(1, Ordering::SeqCst)))
        .retention(retention)
        .connect()
        .await
        .expect("connect")
}

oob_tests::store_conformance!(make);
