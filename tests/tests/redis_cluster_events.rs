//! [`RedisStore`]'s events on a real Redis Cluster (three primaries with a replica each,
//! started by the test): a replica given one node of the cluster keeps its events after
//! that node dies and a replica takes its slots over. Its subscriber learns every node from
//! the cluster (`CLUSTER NODES`) and moves to another one. Before, it knew only the nodes it
//! was given, so with one given it never subscribed again: its waiters slept through other
//! replicas' completions until their re-read (found in review, 2026-12-07).
//!
//! Without `redis-server` installed the test skips with a notice (unless `CI` is set: then
//! it fails).

use std::time::{Duration, Instant};

use oob::provider::FromVerifiedSubject;
use oob::store::RedisStore;
use oob::store::redis::RedisTarget;
use oob::time::SystemClock;
use oob::{AnyPending, CallbackBase, Manager, Outcome};
use oob_tests::redis_cluster::{RedisCluster, key_slot};
use oob_tests::{DeviceCode, spawn_wait, spec, user};

type M = Manager<DeviceCode, RedisStore<DeviceCode>, FromVerifiedSubject>;

const PREFIX: &str = "{events}:";

async fn replica(nodes: Vec<String>) -> (M, RedisStore<DeviceCode>) {
    let store = RedisStore::<DeviceCode>::builder(RedisTarget::cluster(nodes).expect("target"))
        .prefix(PREFIX)
        .keepalive(Duration::from_millis(200))
        .connect()
        .await
        .expect("connect");
    let m = Manager::builder()
        .store(store.clone())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .clock(SystemClock)
        .build();
    (m, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_given_one_node_keeps_its_events_after_that_node_fails_over() {
    let Some(mut cluster) = RedisCluster::start(3, 1) else {
        return;
    };
    let urls = cluster.urls();
    let victim = cluster.primary_of(key_slot(PREFIX)).expect("a primary");
    let seed = urls[victim].clone();
    let (a, a_store) = replica(vec![seed.clone()]).await;
    let (b, _) = replica(urls.clone()).await;
    let p = b.create(&user("a"), spec()).await.expect("create");
    // The victim's replica has everything, the create included (else it may not be
    // promoted, or lose the record): a write on another connection after the create,
    // acknowledged by the replica, comes after it in the replication stream.
    let mut admin = redis::Client::open(seed.as_str())
        .expect("client")
        .get_multiplexed_async_connection()
        .await
        .expect("admin");
    let start = Instant::now();
    loop {
        let () = redis::cmd("SET")
            .arg(format!("{PREFIX}sync"))
            .arg(1)
            .query_async(&mut admin)
            .await
            .expect("set");
        let synced: i64 = redis::cmd("WAIT")
            .arg(1)
            .arg(200)
            .query_async(&mut admin)
            .await
            .expect("wait");
        if synced >= 1 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "never synced");
    }
    let id = p.id();
    let waiting = spawn_wait(&a, id, Duration::from_secs(45));
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.kill(victim);
    let start = Instant::now();
    while cluster.primary_of(key_slot(PREFIX)) == Some(victim)
        || cluster.primary_of(key_slot(PREFIX)).is_none()
    {
        assert!(start.elapsed() < Duration::from_secs(30), "no failover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.wait_ok(Duration::from_secs(30));
    // A's subscriber is back, on a node it learned from the cluster.
    let start = Instant::now();
    while !a_store.events_connected() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the replica given one node never subscribed again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // B completes (retrying while the cluster settles); A's waiter wakes by the event.
    let mut p = Some(p);
    let done = loop {
        match b.complete(p.take().expect("open")).await {
            Ok(_) => break Instant::now(),
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                match b.get(id).await {
                    Ok(AnyPending::Open(o)) => p = Some(o),
                    Ok(AnyPending::Completed(_)) => break Instant::now(),
                    other => panic!("{other:?}"),
                }
            }
        }
    };
    let outcome = waiting.await.expect("join").expect("wait");
    assert!(matches!(outcome, Outcome::Completed(_)), "{outcome:?}");
    assert!(
        done.elapsed() < Duration::from_secs(10),
        "woken by the event, not a re-read"
    );
}
