//! `VaultScan` and `EncryptedVault::reseal_all` on every vault that lists its namespaces
//! (memory, SQLite, Postgres, Redis, Redis Cluster): every namespace's entries move to the
//! active key with their values (bytes), expiry and nothing else; what does not open is
//! counted and left; a run racing compare-and-swap writers loses no write, and what it
//! counts as a conflict is under the active key anyway.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use oob::vault::{
    EncryptedVault, KeyRing, Sealed, Vault, VaultError, VaultKey, VaultScan, WriteOptions,
};
use oob_tests::{manager, ns, user};

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

/// Every namespace's entries move to key 2 (a value with fields the vault's type does not
/// know included), expiry kept; one already under key 2 is skipped, a moved one is counted
/// as unopened and left; a second run has nothing to do; key 1 can then leave the ring.
async fn reseal_all_moves_every_namespace<I: Vault<Sealed> + VaultScan + Clone>(inner: I) {
    let m = manager();
    let before = EncryptedVault::<String, _>::new(inner.clone(), ring_1());
    let after = EncryptedVault::<String, _>::new(inner.clone(), ring_2_1());
    assert_eq!(inner.namespaces().await.expect("namespaces").listed, vec![]);
    let at = SystemTime::now() + Duration::from_secs(3600);
    for name in USERS {
        let cx = user(name);
        let t = m.caller(&cx).expect("caller");
        for k in ["github", "gitlab"] {
            before.put(&t, k, format!("{name}/{k}")).await.expect("put");
        }
        before
            .write(
                &t,
                "expiring",
                name.to_owned(),
                WriteOptions::new().expires_at(at),
            )
            .await
            .expect("write");
    }
    let alice = user("alice");
    let t = m.caller(&alice).expect("caller");
    // Already under key 2.
    after.put(&t, "fresh", "new".to_owned()).await.expect("put");
    // A JSON object with a field `String` is not: stored by another layer over the vault.
    EncryptedVault::<serde_json::Value, _>::new(inner.clone(), ring_1())
        .put(&t, "object", serde_json::json!({"a": 1, "unknown": [true]}))
        .await
        .expect("put");
    // Moved to another key: it does not open there.
    let moved = inner.get(&t, "github").await.expect("get").expect("sealed");
    inner.put(&t, "moved", moved).await.expect("plant");
    let expiry_before = inner
        .read(&t, "expiring")
        .await
        .expect("read")
        .expect("entry")
        .expires_at();

    let mut names: Vec<_> = USERS.iter().map(|n| ns(n)).collect();
    names.sort();
    assert_eq!(inner.namespaces().await.expect("namespaces").listed, names);

    let report = after.reseal_all().await.expect("reseal_all");
    assert_eq!(
        (
            report.resealed,
            report.skipped,
            report.conflicts,
            report.unopened
        ),
        (10, 1, 0, 1),
        "{report:?}"
    );
    assert!(!report.is_complete(), "the moved entry is left");
    assert_eq!(
        inner
            .get(&t, "moved")
            .await
            .expect("get")
            .and_then(|s| s.key_id()),
        Some(1),
        "left as it was"
    );
    inner.delete(&t, "moved").await.expect("delete");
    let again = after.reseal_all().await.expect("reseal_all");
    assert_eq!((again.resealed, again.skipped), (0, 11), "{again:?}");
    assert!(again.is_complete());

    // Key 1 leaves the ring: everything opens, values and expiry as written.
    let only_2 = EncryptedVault::<String, _>::new(inner.clone(), ring_2());
    for name in USERS {
        let cx = user(name);
        let t = m.caller(&cx).expect("caller");
        for k in ["github", "gitlab"] {
            let got = only_2.get(&t, k).await.expect("get");
            assert_eq!(got, Some(format!("{name}/{k}")));
        }
        let e = only_2
            .read(&t, "expiring")
            .await
            .expect("read")
            .expect("entry");
        assert_eq!(e.value(), name);
        assert_eq!(e.expires_at(), expiry_before);
    }
    let object = EncryptedVault::<serde_json::Value, _>::new(inner.clone(), ring_2())
        .get(&t, "object")
        .await
        .expect("get");
    assert_eq!(object, Some(serde_json::json!({"a": 1, "unknown": [true]})));
}

/// `reseal_all` runs again and again while writers (every replica sealing with key 2, as in
/// phase 3) increment counters by compare-and-swap, in every namespace: no increment is
/// lost, and without another run every entry is under key 2 (what a run counted as a
/// conflict was a write under the active key).
async fn reseal_all_racing_writers_loses_no_write<I: Vault<Sealed> + VaultScan + Clone>(inner: I) {
    const KEYS: usize = 20;
    const WRITERS: u64 = 2;
    const PASSES: u64 = 4;
    const ROUNDS: u64 = 3;
    let m = manager();
    // A replica not yet in phase 2: it seals with key 1 (and opens key 2's values).
    let seeding = EncryptedVault::<u64, _>::new(inner.clone(), ring_1().with_old_key(2, key(2)));
    let writer = EncryptedVault::<u64, _>::new(inner.clone(), ring_2_1());
    let resealer = EncryptedVault::<u64, _>::new(inner.clone(), ring_2_1());
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(Mutex::new(oob::vault::ResealReport::default()));
    // Rounds of: seed everything under key 1, then race.
    for _round in 0..ROUNDS {
        for name in USERS {
            let cx = user(name);
            let t = m.caller(&cx).expect("caller");
            for k in 0..KEYS {
                let current = seeding.read(&t, &format!("k{k:02}")).await;
                // The value so far, re-sealed under key 1 by the seeding replica.
                let value = match current {
                    Ok(Some(e)) => *e.value(),
                    Ok(None) => 0,
                    Err(e) => panic!("seed read: {e:?}"),
                };
                seeding
                    .put(&t, &format!("k{k:02}"), value)
                    .await
                    .expect("seed");
            }
        }
        stop.store(false, Ordering::SeqCst);
        let runner = {
            let (resealer, stop, total) = (resealer.clone(), stop.clone(), total.clone());
            tokio::spawn(async move {
                loop {
                    let r = resealer.reseal_all().await.expect("reseal_all");
                    let mut t = total.lock().expect("lock");
                    t.resealed += r.resealed;
                    t.skipped += r.skipped;
                    t.conflicts += r.conflicts;
                    t.unopened += r.unopened;
                    drop(t);
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                }
            })
        };
        // Two writers per namespace, each incrementing every key of it in turn, from the
        // last key (the run walks from the first): they meet the run mid-way.
        let writers: Vec<_> = USERS
            .iter()
            .flat_map(|name| (0..WRITERS).map(move |_| *name))
            .map(|name| {
                let (m, v) = (m.clone(), writer.clone());
                tokio::spawn(async move {
                    let cx = user(name);
                    let t = m.caller(&cx).expect("caller");
                    for _ in 0..PASSES {
                        for k in (0..KEYS).rev() {
                            let key = format!("k{k:02}");
                            loop {
                                let e = v.read(&t, &key).await.expect("read").expect("entry");
                                let next = WriteOptions::new().if_version(e.version());
                                match v.write(&t, &key, e.value() + 1, next).await {
                                    Ok(_) => break,
                                    Err(VaultError::Conflict { .. }) => {}
                                    Err(e) => panic!("write: {e:?}"),
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.expect("writer");
        }
        stop.store(true, Ordering::SeqCst);
        runner.await.expect("runner");
    }
    let total = *total.lock().expect("lock");
    eprintln!("over the rounds: {total:?}");
    assert_eq!(total.unopened, 0);
    assert!(total.resealed > 0, "the runs re-sealed something");
    let only_2 = EncryptedVault::<u64, _>::new(inner.clone(), ring_2());
    for name in USERS {
        let cx = user(name);
        let t = m.caller(&cx).expect("caller");
        for k in 0..KEYS {
            let key = format!("k{k:02}");
            assert_eq!(
                inner
                    .get(&t, &key)
                    .await
                    .expect("get")
                    .and_then(|s| s.key_id()),
                Some(2),
                "{name}/{key} under the active key without another run"
            );
            assert_eq!(
                only_2.get(&t, &key).await.expect("get"),
                Some(ROUNDS * WRITERS * PASSES),
                "{name}/{key}: no increment lost"
            );
        }
    }
}

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

/// An entry whose key breaks today's key rule (vaults took an empty key before 2026-12-07),
/// put in the SQLite file by hand: `reseal_all` counts it as unreachable and goes on, so it
/// does not stop the rotation of every namespace listed after it (it failed the whole run).
#[tokio::test]
async fn an_entry_under_a_key_the_rule_refuses_does_not_stop_the_run() {
    let db = oob_tests::sqlite_file::TempDb::new("reseal-invalid-key");
    let inner = oob::vault::SqliteVault::<Sealed>::open(db.path()).expect("open");
    let m = manager();
    let (alice, zed) = (user("alice"), user("zed"));
    let (a, z) = (
        m.caller(&alice).expect("caller"),
        m.caller(&zed).expect("caller"),
    );
    let old = EncryptedVault::<String, _>::new(inner.clone(), ring_1());
    old.put(&a, "k", "a".into()).await.expect("put");
    old.put(&z, "k", "z".into()).await.expect("put");
    let conn = rusqlite::Connection::open(db.path()).expect("raw");
    conn.execute(
        "INSERT INTO oob_vault (namespace, key, value, written_at, expires_at, version) \
         SELECT namespace, '', value, written_at, expires_at, version + 1 FROM oob_vault \
         WHERE namespace = 'alice' AND key = 'k'",
        [],
    )
    .expect("an old-style entry");
    drop(conn);
    let rotating = EncryptedVault::<String, _>::new(inner.clone(), ring_2_1());
    let report = rotating.reseal_all().await.expect("the run goes on");
    assert_eq!((report.resealed, report.unreachable), (2, 1), "{report:?}");
    assert!(report.is_complete());
    let after = EncryptedVault::<String, _>::new(inner, ring_2());
    assert_eq!(after.get(&z, "k").await.expect("zed").as_deref(), Some("z"));
    assert_eq!(
        after.get(&a, "k").await.expect("alice").as_deref(),
        Some("a")
    );
}

/// An entry under a namespace name today's rule refuses (text-reordering characters, taken
/// before 2026-12-07), put in the SQLite file by hand: `reseal_all` counts the namespace as
/// unreachable and re-seals the others. Before, listing the namespaces failed, so the run
/// could not start on SQLite or Postgres (and Redis dropped the name without a count).
#[tokio::test]
async fn a_namespace_the_rule_refuses_does_not_stop_the_run() {
    let db = oob_tests::sqlite_file::TempDb::new("reseal-invalid-namespace");
    let inner = oob::vault::SqliteVault::<Sealed>::open(db.path()).expect("open");
    let m = manager();
    let zed = user("zed");
    let z = m.caller(&zed).expect("caller");
    let old = EncryptedVault::<String, _>::new(inner.clone(), ring_1());
    old.put(&z, "k", "z".into()).await.expect("put");
    let conn = rusqlite::Connection::open(db.path()).expect("raw");
    conn.execute(
        "INSERT INTO oob_vault (namespace, key, value, written_at, expires_at, version) \
         SELECT 'al\u{202e}ice', key, value, written_at, expires_at, version FROM oob_vault \
         WHERE namespace = 'zed'",
        [],
    )
    .expect("an old-style namespace");
    drop(conn);
    let found = inner.namespaces().await.expect("namespaces");
    assert_eq!((found.listed.len(), found.refused), (1, 1), "{found:?}");
    let rotating = EncryptedVault::<String, _>::new(inner.clone(), ring_2_1());
    let report = rotating.reseal_all().await.expect("the run goes on");
    assert_eq!(
        (report.resealed, report.unreachable_namespaces),
        (1, 1),
        "{report:?}"
    );
    let after = EncryptedVault::<String, _>::new(inner, ring_2());
    assert_eq!(after.get(&z, "k").await.expect("zed").as_deref(), Some("z"));
}

/// A plain vault's entry in the same SQLite file (vaults there share one table, whatever
/// their value type): it does not decode as a sealed value, so `reseal_all` counts it as
/// not sealed and goes on. It stopped the whole run before, leaving every namespace listed
/// after it under the old key, run after run.
#[tokio::test]
async fn an_entry_that_is_not_sealed_does_not_stop_the_run() {
    let db = oob_tests::sqlite_file::TempDb::new("reseal-not-sealed");
    let inner = oob::vault::SqliteVault::<Sealed>::open(db.path()).expect("open");
    let m = manager();
    let (alice, zed) = (user("alice"), user("zed"));
    let (a, z) = (
        m.caller(&alice).expect("caller"),
        m.caller(&zed).expect("caller"),
    );
    let old = EncryptedVault::<String, _>::new(inner.clone(), ring_1());
    old.put(&a, "k", "a".into()).await.expect("put");
    old.put(&z, "k", "z".into()).await.expect("put");
    let plain = oob::vault::SqliteVault::<u32>::open(db.path()).expect("open plain");
    plain.put(&a, "theme", 7).await.expect("plain put");
    let rotating = EncryptedVault::<String, _>::new(inner.clone(), ring_2_1());
    let report = rotating.reseal_all().await.expect("the run goes on");
    assert_eq!((report.resealed, report.not_sealed), (2, 1), "{report:?}");
    assert!(report.is_complete(), "{report:?}");
    let after = EncryptedVault::<String, _>::new(inner, ring_2());
    assert_eq!(after.get(&z, "k").await.expect("zed").as_deref(), Some("z"));
    assert_eq!(plain.get(&a, "theme").await.expect("plain"), Some(7));
}
