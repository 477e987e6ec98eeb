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

/// Puts zed's entry under key 1 through `inner`, lets `plant` write an unreadable row (for
/// the namespace `aaa`, listed before zed's), then rotates to key 2: the run goes on past
/// the row and re-seals zed's entry. Returns the run's report.
async fn rotate_past<I>(inner: I, plant: impl AsyncFnOnce()) -> oob::vault::ResealReport
where
    I: Vault<Sealed> + oob::vault::VaultScan + Clone,
{
    let m = manager();
    let zed = user("zed");
    let z = m.caller(&zed).expect("caller");
    let old = EncryptedVault::<String, _>::new(inner.clone(), KeyRing::new(1, key(1)));
    old.put(&z, "k", "z".into()).await.expect("put");
    plant().await;
    let rotating = EncryptedVault::<String, _>::new(
        inner.clone(),
        KeyRing::new(2, key(2)).with_old_key(1, key(1)),
    );
    let report = rotating.reseal_all().await.expect("the run goes on");
    assert_eq!(report.resealed, 1, "{report:?}");
    assert!(report.is_complete(), "{report:?}");
    let zed_entry = inner.get(&z, "k").await.expect("get").expect("zed's");
    assert_eq!(zed_entry.key_id(), Some(2));
    assert_eq!(
        rotating.get(&z, "k").await.expect("get").as_deref(),
        Some("z")
    );
    report
}

/// [`rotate_past`] a row `aaa`/`k` that reads as a value that does not decode, and that an
/// unconditional write then replaces and a delete removes.
async fn rotation_goes_past_an_unreadable_row<I>(inner: I, plant: impl AsyncFnOnce())
where
    I: Vault<Sealed> + oob::vault::VaultScan + Clone,
{
    let report = rotate_past(inner.clone(), plant).await;
    assert_eq!(report.not_sealed, 1, "{report:?}");
    let m = manager();
    let (aaa, zed) = (user("aaa"), user("zed"));
    let a = m.caller(&aaa).expect("caller");
    let read = inner.get(&a, "k").await;
    assert!(matches!(read, Err(VaultError::Codec(_))), "{read:?}");
    // A new value (a new consent's grant) replaces it; then it deletes like any entry.
    let z = m.caller(&zed).expect("caller");
    let sealed = inner.get(&z, "k").await.expect("get").expect("zed's");
    inner.put(&a, "k", sealed).await.expect("replaced");
    assert!(inner.get(&a, "k").await.expect("readable").is_some());
    assert!(inner.delete(&a, "k").await.expect("delete"));
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

#[tokio::test]
async fn sqlite_a_version_that_is_not_an_integer() {
    let db = oob_tests::sqlite_file::TempDb::new("vault-unreadable-version");
    let inner = SqliteVault::<Sealed>::open(db.path()).expect("open");
    rotation_goes_past_an_unreadable_row(inner.clone(), async || {
        let conn = rusqlite::Connection::open(db.path()).expect("raw");
        conn.execute(
            "INSERT INTO oob_vault (namespace, key, value, written_at, expires_at, version) \
             VALUES ('aaa', 'k', '\"AQ==\"', 0, NULL, 'x')",
            [],
        )
        .expect("a row written by hand");
    })
    .await;
    // A compare-and-swap on the version a conflict reports ends such a row too.
    let conn = rusqlite::Connection::open(db.path()).expect("raw");
    conn.execute(
        "INSERT INTO oob_vault (namespace, key, value, written_at, expires_at, version) \
         VALUES ('aaa', 'k', '\"AQ==\"', 0, NULL, 'x')",
        [],
    )
    .expect("again");
    let (m, aaa) = (manager(), user("aaa"));
    let a = m.caller(&aaa).expect("caller");
    let absent = oob::vault::WriteOptions::new().if_absent();
    let current = match inner
        .write(&a, "k", Sealed::from_bytes(vec![1]), absent)
        .await
    {
        Err(VaultError::Conflict { current: Some(v) }) => v,
        other => panic!("{other:?}"),
    };
    let ended = oob::vault::WriteOptions::new()
        .if_version(current)
        .expires_at(std::time::SystemTime::now());
    inner
        .write(&a, "k", Sealed::from_bytes(vec![1]), ended)
        .await
        .expect("ended");
    assert!(inner.get(&a, "k").await.expect("gone").is_none());
}

#[tokio::test]
async fn sqlite_a_key_or_namespace_that_is_not_text_is_left_out() {
    let db = oob_tests::sqlite_file::TempDb::new("vault-blob-names");
    let inner = SqliteVault::<Sealed>::open(db.path()).expect("open");
    let report = rotate_past(inner, async || {
        let conn = rusqlite::Connection::open(db.path()).expect("raw");
        for (ns, key) in [("'aaa'", "X'6b'"), ("X'616161'", "'k'")] {
            conn.execute(
                &format!(
                    "INSERT INTO oob_vault (namespace, key, value, written_at, expires_at, \
                     version) VALUES ({ns}, {key}, '\"AQ==\"', 0, NULL, 1)"
                ),
                [],
            )
            .expect("a row written by hand");
        }
    })
    .await;
    assert_eq!(report.not_sealed, 0, "{report:?}");
}

#[tokio::test]
async fn redis_fields_that_do_not_parse_or_a_key_of_another_type() {
    let Some(server) = oob_tests::redis_server::RedisServer::start() else {
        // No redis-server and not in CI: nothing here can run.
        return;
    };
    // A write time, an expiry or a version that does not parse (or not as the vault
    // writes it).
    for (i, fields) in [
        &["val", "\"AQ==\"", "w", "x", "e", "", "v", "1"][..],
        &["val", "\"AQ==\"", "w", "1", "e", "x", "v", "1"][..],
        &["val", "\"AQ==\"", "w", "1", "e", "", "v", "007"][..],
    ]
    .into_iter()
    .enumerate()
    {
        let prefix = format!("{{q{i}}}:");
        let client = ::redis::Client::open(server.url()).expect("client");
        let inner = RedisVault::<Sealed>::connect(client)
            .await
            .expect("connect")
            .with_prefix(&prefix);
        let mut raw = server.raw().await;
        rotation_goes_past_an_unreadable_row(inner, async || {
            let _: () = ::redis::cmd("HSET")
                .arg(format!("{prefix}v:3:aaa:k"))
                .arg(fields)
                .query_async(&mut raw)
                .await
                .expect("hset");
            let _: () = ::redis::cmd("ZADD")
                .arg(format!("{prefix}vk:3:aaa"))
                .arg("+inf")
                .arg("k")
                .query_async(&mut raw)
                .await
                .expect("zadd");
        })
        .await;
    }
    // An entry key of another type, and an index member that is not UTF-8.
    let client = ::redis::Client::open(server.url()).expect("client");
    let inner = RedisVault::<Sealed>::connect(client)
        .await
        .expect("connect")
        .with_prefix("{w}:");
    let mut raw = server.raw().await;
    let report = rotate_past(inner, async || {
        let _: () = ::redis::cmd("SET")
            .arg("{w}:v:3:aaa:k")
            .arg("not a hash")
            .query_async(&mut raw)
            .await
            .expect("set");
        for member in [&b"k"[..], &b"\xff\xfe"[..]] {
            let _: () = ::redis::cmd("ZADD")
                .arg("{w}:vk:3:aaa")
                .arg("+inf")
                .arg(member)
                .query_async(&mut raw)
                .await
                .expect("zadd");
        }
    })
    .await;
    assert_eq!(report.not_sealed, 1, "{report:?}");
}
