//! The vault conformance suite against [`RedisVault`] on a Redis Cluster (three primaries,
//! no replicas) started for this binary, plain and under the encryption layer; every vault
//! gets its own hash-tagged prefix, so the vaults spread over the cluster's slots and the
//! client follows redirections. Also: a prefix without a hash tag is refused with a typed
//! error, at connect and on every operation; a vault that waits for replicas says when too
//! few acknowledged; and a vault whose primary is killed carries on against the promoted
//! replica, which has what the vault wrote while waiting for it.
//!
//! Without Redis installed the whole binary skips with a notice (unless `CI` is set: then
//! it fails).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use oob::store::redis::RedisStoreError;
use oob::store::{RedisTarget, StoreError};
use oob::vault::{RedisVault, Vault, VaultError, WriteOptions};
use oob_tests::conformance::ManualClock;
use oob_tests::redis_cluster::{RedisCluster, key_slot};

static CLUSTER: OnceLock<Option<RedisCluster>> = OnceLock::new();
static SEQ: AtomicUsize = AtomicUsize::new(0);

fn cluster() -> &'static RedisCluster {
    let Some(cluster) = CLUSTER.get_or_init(|| RedisCluster::start(3, 0)) else {
        // No Redis and not in CI: nothing here can run.
        std::process::exit(0);
    };
    cluster
}

fn target() -> RedisTarget {
    RedisTarget::cluster(cluster().urls()).expect("cluster target")
}

/// A vault with a hash-tagged prefix of its own on the binary's cluster.
async fn vault<V>(clock: ManualClock) -> RedisVault<V> {
    let prefix = format!("{{v{}}}:", SEQ.fetch_add(1, Ordering::SeqCst));
    RedisVault::connect_with_prefix(target(), &prefix)
        .await
        .expect("connect")
        .with_clock(clock)
}

mod plain {
    use oob::vault::RedisVault;
    use oob_tests::conformance::ManualClock;

    async fn make(clock: ManualClock) -> RedisVault<String> {
        super::vault(clock).await
    }
    oob_tests::vault_conformance!(make);
}

mod encrypted {
    use oob::vault::{EncryptedVault, KeyRing, RedisVault, Sealed, VaultKey};
    use oob_tests::conformance::ManualClock;

    async fn make(clock: ManualClock) -> EncryptedVault<String, RedisVault<Sealed>> {
        let inner = super::vault(clock).await;
        EncryptedVault::new(inner, KeyRing::new(5, VaultKey::generate().expect("key")))
    }
    oob_tests::vault_conformance!(make);
}

fn is_config(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<RedisStoreError>()
        .is_some_and(|e| matches!(e, RedisStoreError::Config(_)))
}

#[tokio::test]
async fn a_prefix_without_a_hash_tag_is_refused_at_connect() {
    let refused = RedisVault::<String>::connect_with_prefix(target(), "oob:").await;
    match refused {
        Err(StoreError::Backend(source)) => assert!(is_config(source.as_ref()), "{source}"),
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_prefix_without_a_hash_tag_fails_every_operation() {
    let m = oob_tests::manager();
    let alice = oob_tests::user("alice");
    let token = m.caller(&alice).expect("caller");
    for prefix in ["oob:", "{}oob:"] {
        let vault = RedisVault::<String>::connect(target())
            .await
            .expect("connect")
            .with_prefix(prefix);
        let write = vault
            .write(&token, "github", "gho".into(), WriteOptions::new())
            .await;
        let read = vault.read(&token, "github").await.map(|_| ());
        let delete = vault.delete(&token, "github").await.map(|_| ());
        let keys = vault.keys(&token).await.map(|_| ());
        for r in [write.map(|_| ()), read, delete, keys] {
            match r {
                Err(VaultError::Backend(source)) => assert!(is_config(source.as_ref()), "{source}"),
                other => panic!("{prefix}: expected a configuration error, got {other:?}"),
            }
        }
    }
}

/// Vaults whose prefixes hash to different primaries share nothing, and each works through
/// the redirections to its own primary.
#[tokio::test]
async fn vaults_on_different_primaries_each_work() {
    let c = cluster();
    let m = oob_tests::manager();
    let alice = oob_tests::user("alice");
    let token = m.caller(&alice).expect("caller");
    let mut primaries = std::collections::BTreeMap::new();
    for i in 0..64 {
        let tag = format!("spread{i}");
        if let Some(p) = c.primary_of(key_slot(&tag)) {
            primaries.entry(p).or_insert(tag);
        }
    }
    assert_eq!(primaries.len(), 3, "the tags reach every primary");
    for tag in primaries.values() {
        let vault = RedisVault::<String>::connect_with_prefix(target(), &format!("{{{tag}}}:"))
            .await
            .expect("connect");
        let v = vault
            .write(
                &token,
                "github",
                tag.clone(),
                WriteOptions::new().if_absent(),
            )
            .await
            .expect("write");
        let entry = vault
            .read(&token, "github")
            .await
            .expect("read")
            .expect("entry");
        assert_eq!((entry.value(), entry.version()), (tag, v));
        assert_eq!(vault.keys(&token).await.expect("keys"), ["github"]);
    }
}

/// Without replicas, a vault waiting for one fails its writes and deletes with
/// `NotReplicated` (the write itself is applied), and a plain vault is not affected.
#[tokio::test]
async fn too_few_replicas_is_a_typed_error() {
    let m = oob_tests::manager();
    let alice = oob_tests::user("alice");
    let token = m.caller(&alice).expect("caller");
    let vault = vault::<String>(ManualClock::new()).await;
    let waiting = vault
        .clone()
        .with_wait_for_replicas(1, Duration::from_millis(50));
    let not_replicated = |r: Result<(), VaultError>| match r {
        Err(VaultError::Backend(source)) => {
            source.downcast_ref::<RedisStoreError>().is_some_and(|e| {
                matches!(
                    e,
                    RedisStoreError::NotReplicated {
                        acked: 0,
                        wanted: 1
                    }
                )
            })
        }
        _ => false,
    };
    let w = waiting.put(&token, "github", "gho".into()).await;
    assert!(not_replicated(w.map(|_| ())));
    let entry = vault.read(&token, "github").await.expect("read");
    assert_eq!(entry.map(|e| e.value().clone()).as_deref(), Some("gho"));
    let d = waiting.delete(&token, "github").await;
    assert!(not_replicated(d.map(|_| ())));
    assert!(vault.read(&token, "github").await.expect("read").is_none());
    vault
        .put(&token, "github", "gho".into())
        .await
        .expect("a plain vault does not wait");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vault_carries_on_after_its_primary_fails_over() {
    let Some(mut cluster) = RedisCluster::start(3, 1) else {
        return;
    };
    let m = oob_tests::manager();
    let alice = oob_tests::user("alice");
    let token = m.caller(&alice).expect("caller");
    let target = RedisTarget::cluster(cluster.urls()).expect("cluster target");
    let vault = RedisVault::<String>::connect_with_prefix(target, "{failover}:")
        .await
        .expect("connect");
    let victim = cluster
        .primary_of(key_slot("failover"))
        .expect("the slot has a primary");
    replica_online(&cluster.urls()[victim]).await;
    // Acknowledged by the one replica, which is the one promoted.
    let waiting = vault
        .clone()
        .with_wait_for_replicas(1, Duration::from_secs(5));
    waiting
        .put(&token, "before", "1".into())
        .await
        .expect("write acknowledged by the replica");
    cluster.kill(victim);
    // Until a replica is promoted, operations fail (with an error, not a hang or a panic);
    // then the same vault, on the same connection, works against the new primary.
    let start = Instant::now();
    let version = loop {
        match vault
            .write(&token, "after", "2".into(), WriteOptions::new())
            .await
        {
            Ok(v) => break v,
            Err(VaultError::Backend(_)) if start.elapsed() < Duration::from_secs(60) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("no write succeeded within 60 s of the kill: {e}"),
        }
    };
    assert_ne!(cluster.primary_of(key_slot("failover")), Some(victim));
    let before = vault.get(&token, "before").await.expect("read");
    assert_eq!(before.as_deref(), Some("1"), "a replicated write survives");
    let entry = vault
        .read(&token, "after")
        .await
        .expect("read")
        .expect("entry");
    assert_eq!((entry.value().as_str(), entry.version()), ("2", version));
    let next = WriteOptions::new().if_version(version);
    vault
        .write(&token, "after", "3".into(), next)
        .await
        .expect("compare-and-swap on the new primary");
    let stale = vault
        .write(
            &token,
            "after",
            "4".into(),
            WriteOptions::new().if_version(version),
        )
        .await;
    assert!(
        matches!(stale, Err(VaultError::Conflict { .. })),
        "{stale:?}"
    );
}

/// Waits until the primary at `url` has its replica online (a replica that never synced is
/// not promoted).
async fn replica_online(url: &str) {
    let client = redis::Client::open(url).expect("client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("connect to the primary");
    let start = Instant::now();
    loop {
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query_async(&mut conn)
            .await
            .expect("INFO");
        if info.contains("state=online") {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the replica did not sync: {info}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
