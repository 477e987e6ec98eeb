//! Entries today's rules refuse or that are not sealed, put in a SQLite file by hand:
//! `reseal_all` counts them and goes on with every other namespace.

use oob::vault::{EncryptedVault, Sealed, Vault, VaultScan};
use oob_tests::{manager, user};

use super::{ring_1, ring_2, ring_2_1};

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
