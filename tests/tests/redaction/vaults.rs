//! The vaults: a stored credential that no longer decodes as the vault's type.

use oob::vault::{MemoryVault, Vault, VaultError};

use crate::leaks::Leaks;
use crate::{SECRET, manager, subject};
/// What a vault's value type became (an upgrade): a stored string does not decode as it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum Grant {
    Bearer,
}

/// A stored credential that no longer decodes as the vault's type: serde_json's message
/// quotes it (`unknown variant \`…\``, `invalid type: string "…"`), so the error must not keep
/// that message, on any vault (the encryption layer's is the decrypted credential).
#[tokio::test]
async fn a_stored_value_that_does_not_decode_prints_nothing_of_it() {
    use oob::vault::{EncryptedVault, KeyRing, PostgresVault, RedisVault, Sealed, SqliteVault};
    use oob::vault::{VaultKey, WriteOptions};
    let mut leaks = Leaks::default();
    let m = manager();
    let cx = subject();
    let t = m.caller(&cx).expect("caller");
    let ring = KeyRing::new(1, VaultKey::from_bytes([7; 32]));
    let mut check = |what: &str, e: VaultError| {
        assert!(matches!(e, VaultError::Codec(_)), "{what}: {e:?}");
        leaks.chain(what, &e);
    };

    let inner = MemoryVault::<Sealed>::new();
    EncryptedVault::<String, _>::new(inner.clone(), ring.clone())
        .put(&t, "github", SECRET.to_owned())
        .await
        .expect("put");
    let reader = EncryptedVault::<Grant, _>::new(inner.clone(), ring.clone());
    check(
        "EncryptedVault<MemoryVault> (enum)",
        reader.get(&t, "github").await.expect_err("no decode"),
    );
    let reader = EncryptedVault::<u64, _>::new(inner, ring.clone());
    check(
        "EncryptedVault<MemoryVault> (number)",
        reader.get(&t, "github").await.expect_err("no decode"),
    );

    let db = oob_tests::sqlite_file::TempDb::new("redaction-vault");
    SqliteVault::<String>::open(db.path())
        .expect("open")
        .put(&t, "github", SECRET.to_owned())
        .await
        .expect("put");
    let reader = SqliteVault::<Grant>::open(db.path()).expect("open");
    check(
        "SqliteVault",
        reader.get(&t, "github").await.expect_err("no decode"),
    );
    let inner = SqliteVault::<Sealed>::open(db.path()).expect("open");
    EncryptedVault::<String, _>::new(inner.clone(), ring.clone())
        .put(&t, "sealed", SECRET.to_owned())
        .await
        .expect("put");
    let reader = EncryptedVault::<Grant, _>::new(inner, ring.clone());
    check(
        "EncryptedVault<SqliteVault>",
        reader.read(&t, "sealed").await.expect_err("no decode"),
    );

    let server = oob_tests::redis_server::RedisServer::start();
    if let Some(server) = &server {
        let client = redis::Client::open(server.url()).expect("client");
        let writer = RedisVault::<String>::connect(client.clone())
            .await
            .expect("connect")
            .with_prefix("{redaction}:");
        writer
            .write(&t, "github", SECRET.to_owned(), WriteOptions::new())
            .await
            .expect("put");
        let reader = RedisVault::<u64>::connect(client)
            .await
            .expect("connect")
            .with_prefix("{redaction}:");
        check(
            "RedisVault",
            reader.get(&t, "github").await.expect_err("no decode"),
        );
    }
    if let Some(pg) = oob_tests::postgres_server::shared() {
        let schema = oob_tests::postgres_server::fresh_schema();
        let writer = PostgresVault::<String>::new(pg.pool(2).await, &schema).expect("schema");
        writer.migrate().await.expect("migrate");
        writer
            .put(&t, "github", SECRET.to_owned())
            .await
            .expect("put");
        let reader = PostgresVault::<Grant>::new(pg.pool(2).await, &schema).expect("schema");
        check(
            "PostgresVault",
            reader.get(&t, "github").await.expect_err("no decode"),
        );
    }
    leaks.assert_none(30);
}
