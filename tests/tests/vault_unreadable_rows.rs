//! A vault row the vault cannot read (a column of another type, a time that does not parse:
//! edited by hand or corrupted) is a value that does not decode (`VaultError::Codec`), not
//! a failing backend, so a key rotation's `reseal_all` counts it and goes on. Found in a
//! hostile review (2026-12-07): one such row stopped the run with a backend error, leaving
//! every namespace after it under the old key (with a compromised key, someone who can
//! write the database could keep them there by planting one row).

use oob::vault::{
    EncryptedVault, KeyRing, PostgresVault, RedisVault, Sealed, SqliteVault, Vault, VaultError,
    VaultKey,
};
use oob_tests::{manager, user};

fn key(b: u8) -> VaultKey {
    VaultKey::from_bytes([b; 32])
}

/// Puts zed's entry under key 1 through `inner`, lets `plant` write an unreadable row for
/// the namespace `aaa` (listed before zed's), then rotates to key 2: the run reports the
/// row and re-seals zed's entry.
async fn rotation_goes_past_an_unreadable_row<I>(inner: I, plant: impl AsyncFnOnce())
where
    I: Vault<Sealed> + oob::vault::VaultScan + Clone,
{
    let m = manager();
    let zed = user("zed");
    let z = m.caller(&zed).expect("caller");
    let old = EncryptedVault::<String, _>::new(inner.clone(), KeyRing::new(1, key(1)));
    old.put(&z, "k", "z".into()).await.expect("put");
    plant().await;

    // Read directly, the row is a value that does not decode.
    let aaa = user("aaa");
    let a = m.caller(&aaa).expect("caller");
    assert!(
        matches!(inner.get(&a, "k").await, Err(VaultError::Codec(_))),
        "{:?}",
        inner.get(&a, "k").await
    );

    let rotating = EncryptedVault::<String, _>::new(
        inner.clone(),
        KeyRing::new(2, key(2)).with_old_key(1, key(1)),
    );
    let report = rotating.reseal_all().await.expect("the run goes on");
    assert_eq!(report.not_sealed, 1, "{report:?}");
    assert_eq!(report.resealed, 1, "{report:?}");
    assert!(report.is_complete(), "{report:?}");
    let zed_entry = inner.get(&z, "k").await.expect("get").expect("zed's");
    assert_eq!(zed_entry.key_id(), Some(2));
    assert_eq!(
        rotating.get(&z, "k").await.expect("get").as_deref(),
        Some("z")
    );
}

#[tokio::test]
async fn sqlite_a_value_that_is_not_text() {
    let db = oob_tests::sqlite_file::TempDb::new("vault-unreadable-rows");
    let inner = SqliteVault::<Sealed>::open(db.path()).expect("open");
    rotation_goes_past_an_unreadable_row(inner, async || {
        let conn = rusqlite::Connection::open(db.path()).expect("raw");
        conn.execute(
            "INSERT INTO oob_vault (namespace, key, value, written_at, expires_at, version) \
             VALUES ('aaa', 'k', X'00', 0, NULL, 1)",
            [],
        )
        .expect("a blob row");
    })
    .await;
}

#[tokio::test]
async fn redis_a_write_time_that_does_not_parse() {
    let Some(server) = oob_tests::redis_server::RedisServer::start() else {
        // No redis-server and not in CI: nothing here can run.
        return;
    };
    let client = ::redis::Client::open(server.url()).expect("client");
    let inner = RedisVault::<Sealed>::connect(client)
        .await
        .expect("connect")
        .with_prefix("{p}:");
    rotation_goes_past_an_unreadable_row(inner, async || {
        let mut raw = server.raw().await;
        let _: () = ::redis::cmd("HSET")
            .arg("{p}:v:3:aaa:k")
            .arg(&["val", "\"AQ==\"", "w", "x", "e", "", "v", "1"][..])
            .query_async(&mut raw)
            .await
            .expect("hset");
        let _: () = ::redis::cmd("ZADD")
            .arg("{p}:vk:3:aaa")
            .arg("+inf")
            .arg("k")
            .query_async(&mut raw)
            .await
            .expect("zadd");
    })
    .await;
}

#[tokio::test]
async fn postgres_a_negative_write_time() {
    let Some(server) = oob_tests::postgres_server::shared() else {
        // No Postgres and not in CI: nothing here can run.
        return;
    };
    let schema = oob_tests::postgres_server::fresh_schema();
    let pool = server.pool(2).await;
    let inner = PostgresVault::<Sealed>::new(pool.clone(), &schema).expect("schema name");
    inner.migrate().await.expect("migrate");
    rotation_goes_past_an_unreadable_row(inner, async || {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {schema}.vault (namespace, key, value, written_at, expires_at, version) \
             VALUES ('aaa', 'k', '\"AQ==\"', -5, NULL, 1)"
        )))
        .execute(&pool)
        .await
        .expect("a row written by hand");
    })
    .await;
}
