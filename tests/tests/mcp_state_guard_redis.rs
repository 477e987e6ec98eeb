//! [`RedisStateGuard`] against a real `redis-server` on loopback: single use across
//! "replicas" (separate connections), atomicity under concurrency, and the keys' expiry;
//! and the same on a real Redis Cluster of three primaries, started by the test, with the
//! keys spread over every primary; a used state stays used across a failover. Every backend
//! error has the same source type. (A consume sent twice, its first reply lost:
//! `mcp_state_guard_redis_lost_reply.rs`.)
//!
//! Without `redis-server` installed the whole binary skips with a notice (unless `CI` is
//! set: then it fails).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oob::mcp::{GuardError, RedisStateGuard, StateGuard};
use oob::store::RedisTarget;
use oob::store::redis::RedisStoreError;
use oob_tests::redis_cluster::{RedisCluster, key_slot};
use oob_tests::redis_server::RedisServer;

static SERVER: OnceLock<Option<RedisServer>> = OnceLock::new();
static SEQ: AtomicUsize = AtomicUsize::new(0);

fn url() -> String {
    let Some(server) = SERVER.get_or_init(RedisServer::start) else {
        // No redis-server and not in CI: nothing here can run.
        std::process::exit(0);
    };
    server.url()
}

/// `n` guards on their own connections (as on `n` replicas), sharing a fresh prefix.
async fn replicas(n: usize) -> Vec<RedisStateGuard> {
    let prefix = format!("g{}:", SEQ.fetch_add(1, Ordering::SeqCst));
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(
            RedisStateGuard::open(&url())
                .await
                .expect("connect")
                .with_prefix(prefix.clone()),
        );
    }
    out
}

async fn raw() -> redis::aio::MultiplexedConnection {
    redis::Client::open(url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

#[tokio::test]
async fn first_consume_wins_on_any_replica_and_later_ones_are_replays() {
    let g = replicas(2).await;
    let exp = SystemTime::now() + Duration::from_secs(600);
    g[0].consume("n1", exp).await.unwrap();
    for replica in &g {
        assert!(matches!(
            replica.consume("n1", exp).await,
            Err(GuardError::Replayed)
        ));
    }
    g[1].consume("n2", exp).await.unwrap();
    assert!(matches!(
        g[0].consume("n2", exp).await,
        Err(GuardError::Replayed)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_consumers_on_several_replicas_exactly_one_wins() {
    let g = replicas(4).await;
    let exp = SystemTime::now() + Duration::from_secs(600);
    for round in 0..20 {
        let nonce = format!("c{round}");
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let (g, nonce) = (g[i % g.len()].clone(), nonce.clone());
                tokio::spawn(async move { g.consume(&nonce, exp).await })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => ok += 1,
                Err(GuardError::Replayed) => {}
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(ok, 1, "round {round}");
    }
}

#[tokio::test]
async fn keys_expire_with_their_state_plus_grace() {
    let g = replicas(1)
        .await
        .remove(0)
        .with_grace(Duration::from_secs(5));
    let exp = UNIX_EPOCH + Duration::from_millis(4_000_000_000_000);
    g.consume("e1", exp).await.unwrap();
    let mut conn = raw().await;
    let at: i64 = redis::cmd("PEXPIRETIME")
        .arg(format!("{}e1", g.prefix()))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(at, 4_000_000_005_000);

    // A state consumed after its expiry (its retry opened it in time, then waited for the
    // browser step) is kept for the grace after the consume: a concurrent retry that opened
    // it in time too is a replay, not a second use (hostile review, 2026-12-07).
    let past = SystemTime::now() - Duration::from_secs(3600);
    g.consume("old", past).await.unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(format!("{}old", g.prefix()))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!((1..=5_000).contains(&ttl), "{ttl}");
    assert!(matches!(
        g.consume("old", past).await,
        Err(GuardError::Replayed)
    ));
}

/// The source of a [`GuardError::Backend`]: every one, whatever failed, is a
/// [`RedisStoreError`] whose own source is the `redis` error.
fn redis_source(err: &GuardError) -> &RedisStoreError {
    assert!(matches!(err, GuardError::Backend(_)), "{err:?}");
    let source = std::error::Error::source(err)
        .and_then(|s| s.downcast_ref::<RedisStoreError>())
        .unwrap_or_else(|| panic!("not a RedisStoreError source: {err:?}"));
    assert!(
        std::error::Error::source(source).is_some_and(|s| s.is::<redis::RedisError>()),
        "{source:?}"
    );
    source
}

#[tokio::test]
async fn an_unreachable_redis_is_a_backend_error() {
    let err = RedisStateGuard::open(&format!("redis://127.0.0.1:{}/", unused_port()))
        .await
        .unwrap_err();
    assert!(redis_source(&err).is_unavailable(), "{err:?}");
}

#[tokio::test]
async fn an_invalid_url_is_a_backend_error_with_the_same_source_type() {
    let err = RedisStateGuard::open("nope://127.0.0.1/")
        .await
        .unwrap_err();
    assert!(
        matches!(redis_source(&err), RedisStoreError::Command(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_failed_consume_is_a_backend_error_with_the_same_source_type() {
    let g = replicas(1).await.remove(0);
    // A key of another type under the guard's name: Redis answers WRONGTYPE.
    let mut conn = raw().await;
    let _: i64 = redis::cmd("RPUSH")
        .arg(format!("{}wrongtype", g.prefix()))
        .arg("x")
        .query_async(&mut conn)
        .await
        .unwrap();
    let exp = SystemTime::now() + Duration::from_secs(600);
    let err = g.consume("wrongtype", exp).await.unwrap_err();
    assert!(
        matches!(redis_source(&err), RedisStoreError::Command(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn each_consume_stores_its_own_random_token() {
    let g = replicas(1).await.remove(0);
    let exp = SystemTime::now() + Duration::from_secs(600);
    g.consume("t1", exp).await.unwrap();
    g.consume("t2", exp).await.unwrap();
    let mut conn = raw().await;
    let mut tokens = Vec::new();
    for n in ["t1", "t2"] {
        let v: Vec<u8> = redis::cmd("GET")
            .arg(format!("{}{n}", g.prefix()))
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(v.len(), 16, "{n}");
        tokens.push(v);
    }
    assert_ne!(tokens[0], tokens[1]);
    // A key stored by an earlier version of the guard (value `1`) is still a use.
    let _: () = redis::cmd("SET")
        .arg(format!("{}old-version", g.prefix()))
        .arg(1)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(matches!(
        g.consume("old-version", exp).await,
        Err(GuardError::Replayed)
    ));
}

/// A free loopback port nothing listens on (bound, then released).
fn unused_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `PEXPIRETIME` of `key` asked of node `url` directly (no redirection followed): a node
/// that does not hold the key's slot answers `MOVED`, an error here.
async fn pexpiretime_on(url: &str, key: &str) -> redis::RedisResult<i64> {
    let mut conn = redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?;
    redis::cmd("PEXPIRETIME")
        .arg(key)
        .query_async(&mut conn)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_each_nonce_is_used_once_on_the_primary_of_its_slot() {
    let Some(cluster) = RedisCluster::start(3, 0) else {
        return;
    };
    let urls = cluster.urls();
    let prefix = "oob:mcp:used:";
    // Three replicas: two seeded with every node, one with a single node (it finds the
    // others, and follows redirections to them).
    let mut g = Vec::new();
    for seeds in [urls.clone(), urls.clone(), vec![urls[0].clone()]] {
        let target = RedisTarget::cluster(seeds).expect("cluster target");
        let guard = RedisStateGuard::connect(target).await.expect("connect");
        assert!(guard.is_cluster());
        assert_eq!(
            guard.prefix(),
            prefix,
            "the default prefix needs no hash tag"
        );
        g.push(guard.with_grace(Duration::from_secs(5)));
    }
    let exp = UNIX_EPOCH + Duration::from_millis(4_000_000_000_000);
    let mut primaries = std::collections::HashSet::new();
    for i in 0..30 {
        let nonce = format!("k{i}");
        g[i % 3].consume(&nonce, exp).await.unwrap();
        for replica in &g {
            assert!(
                matches!(
                    replica.consume(&nonce, exp).await,
                    Err(GuardError::Replayed)
                ),
                "{nonce} replayed"
            );
        }
        // The key is on the primary serving its slot, with the state's expiry plus grace.
        let key = format!("{prefix}{nonce}");
        let primary = cluster.primary_of(key_slot(&key)).expect("a primary");
        primaries.insert(primary);
        assert_eq!(
            pexpiretime_on(&urls[primary], &key).await.unwrap(),
            4_000_000_005_000,
            "{key}"
        );
    }
    assert_eq!(primaries.len(), 3, "the keys spread over every primary");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_concurrent_consumers_on_several_replicas_exactly_one_wins() {
    let Some(cluster) = RedisCluster::start(3, 0) else {
        return;
    };
    let mut g = Vec::new();
    for _ in 0..3 {
        let target = RedisTarget::cluster(cluster.urls()).expect("cluster target");
        g.push(RedisStateGuard::connect(target).await.expect("connect"));
    }
    let exp = SystemTime::now() + Duration::from_secs(600);
    for round in 0..20 {
        let nonce = format!("c{round}");
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let (g, nonce) = (g[i % g.len()].clone(), nonce.clone());
                tokio::spawn(async move { g.consume(&nonce, exp).await })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => ok += 1,
                Err(GuardError::Replayed) => {}
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(ok, 1, "round {round}");
    }
}

/// Whether some node other than `primary` is a replica that already holds `key` (asked with
/// `READONLY`; a node that does not serve the key's slot answers `MOVED`, an error here).
async fn replicated(urls: &[String], primary: usize, key: &str) -> bool {
    for (i, url) in urls.iter().enumerate() {
        if i == primary {
            continue;
        }
        let Ok(client) = redis::Client::open(url.as_str()) else {
            continue;
        };
        let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
            continue;
        };
        let _: redis::RedisResult<()> = redis::cmd("READONLY").query_async(&mut conn).await;
        let exists: redis::RedisResult<i64> =
            redis::cmd("EXISTS").arg(key).query_async(&mut conn).await;
        if exists == Ok(1) {
            return true;
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_a_used_state_stays_used_across_a_failover() {
    let Some(mut cluster) = RedisCluster::start(3, 1) else {
        return;
    };
    let urls = cluster.urls();
    let target = RedisTarget::cluster(urls.clone()).expect("cluster target");
    let g = RedisStateGuard::connect(target).await.expect("connect");
    let exp = SystemTime::now() + Duration::from_secs(600);
    // Every nonce with the hash tag {f} is in one slot.
    g.consume("{f}before", exp).await.unwrap();
    let key = format!("{}{{f}}before", g.prefix());
    let primary = cluster.primary_of(key_slot(&key)).expect("a primary");
    // Killed only once its replica has the key (replication is asynchronous).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !replicated(&urls, primary, &key).await {
        assert!(
            std::time::Instant::now() < deadline,
            "the key never reached a replica"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cluster.kill(primary);

    // The guard carries on against the promoted replica (a bounded wait for the failover,
    // not a timing assertion).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut attempt = 0;
    loop {
        attempt += 1;
        match g.consume(&format!("{{f}}after{attempt}"), exp).await {
            Ok(()) => break,
            Err(GuardError::Backend(_)) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => panic!("after the kill: {other:?}"),
        }
    }
    // A write to the slot succeeded with its primary dead: the replica was promoted, and
    // it has the key consumed before.
    assert!(matches!(
        g.consume("{f}before", exp).await,
        Err(GuardError::Replayed)
    ));
    assert!(matches!(
        g.consume(&format!("{{f}}after{attempt}"), exp).await,
        Err(GuardError::Replayed)
    ));
}

#[tokio::test]
async fn an_unreachable_cluster_is_a_backend_error() {
    let target = RedisTarget::cluster([format!("redis://127.0.0.1:{}/", unused_port())]).unwrap();
    let err = RedisStateGuard::connect(target).await.unwrap_err();
    assert!(redis_source(&err).is_unavailable(), "{err:?}");
}
