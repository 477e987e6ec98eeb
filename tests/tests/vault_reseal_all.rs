//! `VaultScan` and `EncryptedVault::reseal_all` on every vault that lists its namespaces
//! (memory, SQLite, Postgres, Redis, Redis Cluster): every namespace's entries move to the
//! active key with their values (bytes), expiry and nothing else; what does not open is
//! counted and left; a run racing compare-and-swap writers loses no write, and what it
//! counts as a conflict is under the active key anyway.
//!
//! The cases (`cases`) run on every backend below; entries the rules refuse have their own
//! file (`refused_entries`).

use oob::vault::{KeyRing, VaultKey};

#[path = "vault_reseal_all/cases.rs"]
mod cases;

#[path = "vault_reseal_all/refused_entries.rs"]
mod refused_entries;

use cases::{reseal_all_moves_every_namespace, reseal_all_racing_writers_loses_no_write};

fn key(byte: u8) -> VaultKey {
    VaultKey::from_bytes([byte; 32])
}

/// Before the rotation: key 1 only.
fn ring_1() -> KeyRing {
    KeyRing::new(1, key(1))
}

/// Phase 2 and 3: key 2 active, key 1 still opens.
fn ring_2_1() -> KeyRing {
    KeyRing::new(2, key(2)).with_old_key(1, key(1))
}

/// After the rotation: key 2 only.
fn ring_2() -> KeyRing {
    KeyRing::new(2, key(2))
}

/// Namespaces of the tests (one with `:` in it, which the Redis index key also uses).
const USERS: [&str; 3] = ["alice", "bob@example.com", "team:a:1"];

macro_rules! reseal_all_cases {
    ($make:path) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn reseal_all_moves_every_namespace() {
            super::reseal_all_moves_every_namespace($make().await).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn reseal_all_racing_writers_loses_no_write() {
            super::reseal_all_racing_writers_loses_no_write($make().await).await;
        }
    };
}

mod memory {
    use oob::vault::{MemoryVault, Sealed};

    async fn make() -> MemoryVault<Sealed> {
        MemoryVault::new()
    }
    reseal_all_cases!(make);
}

mod sqlite {
    use oob::vault::{Sealed, SqliteVault};

    async fn make() -> SqliteVault<Sealed> {
        SqliteVault::open_in_memory().expect("open")
    }
    reseal_all_cases!(make);
}

mod postgres {
    use oob::vault::{PostgresVault, Sealed};
    use oob_tests::postgres_server::{fresh_schema, shared};

    async fn make() -> PostgresVault<Sealed> {
        let Some(server) = shared() else {
            // No Postgres and not in CI: nothing here can run.
            std::process::exit(0);
        };
        let vault = PostgresVault::new(server.pool(8).await, &fresh_schema()).expect("schema");
        vault.migrate().await.expect("migrate");
        vault
    }
    reseal_all_cases!(make);
}

mod redis {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use oob::vault::{RedisVault, Sealed, Vault, VaultScan};
    use oob_tests::redis_server::RedisServer;

    static SERVER: OnceLock<Option<RedisServer>> = OnceLock::new();
    static SEQ: AtomicUsize = AtomicUsize::new(0);

    async fn at<V>(prefix: &str) -> RedisVault<V> {
        let Some(server) = SERVER.get_or_init(RedisServer::start) else {
            // No redis-server and not in CI: nothing here can run.
            std::process::exit(0);
        };
        let client = ::redis::Client::open(server.url()).expect("client");
        RedisVault::connect(client)
            .await
            .expect("connect")
            .with_prefix(prefix)
    }

    async fn make() -> RedisVault<Sealed> {
        at(&format!("{{r{}}}:", SEQ.fetch_add(1, Ordering::SeqCst))).await
    }
    reseal_all_cases!(make);

    /// A prefix with glob characters lists its own namespaces only, not those of a prefix
    /// its unescaped pattern would match.
    #[tokio::test]
    async fn a_glob_prefix_matches_itself_only() {
        let m = oob_tests::manager();
        let (alice, bob) = (oob_tests::user("alice"), oob_tests::user("bob"));
        let globbed = at::<String>("{g*?[x]}:").await;
        let other = at::<String>("{gab?x}:").await;
        globbed
            .put(&m.caller(&alice).expect("caller"), "k", "a".into())
            .await
            .expect("put");
        other
            .put(&m.caller(&bob).expect("caller"), "k", "b".into())
            .await
            .expect("put");
        assert_eq!(
            globbed.namespaces().await.expect("namespaces").listed,
            vec![oob_tests::ns("alice")]
        );
        assert_eq!(
            other.namespaces().await.expect("namespaces").listed,
            vec![oob_tests::ns("bob")]
        );
    }
}

mod redis_cluster {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use oob::store::RedisTarget;
    use oob::vault::{RedisVault, Sealed};
    use oob_tests::redis_cluster::RedisCluster;

    static CLUSTER: OnceLock<Option<RedisCluster>> = OnceLock::new();
    static SEQ: AtomicUsize = AtomicUsize::new(0);

    /// A vault with a hash-tagged prefix of its own on the binary's three-primary cluster.
    async fn make() -> RedisVault<Sealed> {
        let Some(cluster) = CLUSTER.get_or_init(|| RedisCluster::start(3, 0)) else {
            std::process::exit(0);
        };
        let target = RedisTarget::cluster(cluster.urls()).expect("cluster target");
        let prefix = format!("{{c{}}}:", SEQ.fetch_add(1, Ordering::SeqCst));
        RedisVault::connect_with_prefix(target, &prefix)
            .await
            .expect("connect")
    }
    reseal_all_cases!(make);
}
