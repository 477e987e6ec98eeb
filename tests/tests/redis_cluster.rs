//! [`RedisStore`] on a real Redis Cluster, started by the test: a prefix without a hash tag
//! is refused; and with three primaries of two replicas each, the primary of the store's
//! slot killed (SIGKILL) mid-run fails over to a replica with nothing acknowledged lost, and
//! the store carries on against the new primary.
//!
//! The durability condition, stated: the store waits for one replica to acknowledge every
//! write (`wait_for_replicas(1, …)`) before it acknowledges it, and Redis Cluster promotes
//! the replica with the most replicated data, so the new primary has every acknowledged
//! write. (Two replicas, so the new primary again has one to acknowledge to; with one it
//! would refuse to acknowledge anything until a replica rejoins.) Without the wait, Redis
//! replication is asynchronous and a killed primary may take its last acknowledged writes
//! with it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::store::RedisStore;
use oob::time::SystemClock;
use oob::{AnyPending, CallbackBase, Manager, Namespace, PendingId};
use oob_tests::redis_cluster::{RedisCluster, key_slot};
use oob_tests::{DeviceCode, spec};

type M = Manager<DeviceCode, RedisStore<DeviceCode>, FromVerifiedSubject>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_without_a_hash_tag_is_refused_on_a_cluster() {
    let Some(cluster) = RedisCluster::start(3, 0) else {
        return;
    };
    let refused = cluster.store_builder().prefix("oob:").connect().await;
    let err = refused.expect_err("a prefix without a hash tag");
    let source = std::error::Error::source(&err).map(ToString::to_string);
    assert!(
        source.as_deref().is_some_and(|s| s.contains("hash tag")),
        "{source:?}"
    );
    assert!(
        cluster
            .store_builder()
            .prefix("{oob}:")
            .connect()
            .await
            .is_ok()
    );
}

#[derive(Default)]
struct Acked {
    /// Acknowledged creates, and whether their completion was acknowledged too.
    ids: HashMap<PendingId, bool>,
    after_kill: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_primary_fails_over_with_nothing_acknowledged_lost() {
    let Some(mut cluster) = RedisCluster::start(3, 2) else {
        return;
    };
    let store = cluster
        .store_builder()
        .prefix("{oob}:")
        .wait_for_replicas(1, Duration::from_secs(1))
        .connect()
        .await
        .expect("connect");
    let m: M = Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .clock(SystemClock)
        .build();
    let acked = Arc::new(Mutex::new(Acked::default()));
    let killed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(40);
    let workers: Vec<_> = (0..8)
        .map(|t| {
            let (m, acked, killed) = (m.clone(), acked.clone(), killed.clone());
            tokio::spawn(async move {
                let user = VerifiedSubject::new(Namespace::new(format!("u{t}")).expect("ns"));
                let mut i = 0u64;
                while Instant::now() < deadline {
                    i += 1;
                    let was_killed = killed.load(std::sync::atomic::Ordering::SeqCst);
                    let p = match m.create(&user, spec()).await {
                        Ok(p) => p,
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        }
                    };
                    let id = p.id();
                    acked.lock().expect("lock").ids.insert(id, false);
                    // Half stay open, half are completed.
                    if i.is_multiple_of(2) && m.complete(p).await.is_ok() {
                        let mut a = acked.lock().expect("lock");
                        a.ids.insert(id, true);
                        if was_killed {
                            a.after_kill += 1;
                        }
                    }
                    let a = acked.lock().expect("lock");
                    if a.after_kill >= 100 {
                        return;
                    }
                }
            })
        })
        .collect();
    // Some writes acknowledged before the kill (the first wait until the replicas synced).
    let start = Instant::now();
    while acked.lock().expect("lock").ids.len() < 50 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "writes before the kill"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let victim = cluster
        .primary_of(key_slot("{oob}:"))
        .expect("the primary of the store's slot");
    killed.store(true, std::sync::atomic::Ordering::SeqCst);
    cluster.kill(victim);
    for w in workers {
        w.await.expect("worker");
    }
    let acked = std::mem::take(&mut *acked.lock().expect("lock"));
    assert!(
        acked.after_kill >= 100,
        "the store kept working after the failover ({} completions)",
        acked.after_kill
    );
    assert_ne!(
        cluster.primary_of(key_slot("{oob}:")),
        Some(victim),
        "a replica took over the slot"
    );
    // Every acknowledged create is there, and every acknowledged completion stuck.
    for (id, completed) in &acked.ids {
        let got = m.get(*id).await;
        match (completed, got) {
            (true, Ok(AnyPending::Completed(_))) | (false, Ok(_)) => {}
            (c, other) => panic!("{id}: acknowledged (completed: {c}) but read {other:?}"),
        }
    }
}
