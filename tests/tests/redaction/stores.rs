//! The durable stores: their types once they hold a canary pending, and a stored payload
//! that no longer decodes.

use oob::provider::FromVerifiedSubject;
use oob::store::StoreError;
use oob::vault::Vault;
use oob::{AnyPending, CallbackBase, Error, Manager, OobPayload};

use crate::leaks::Leaks;
use crate::{SECRET, Secret, spec, subject};
/// The durable stores and vault, after they hold a canary pending and credential.
#[tokio::test]
async fn sqlite_and_redis_types_print_neither_secret_nor_namespace() {
    use oob::store::{RedisStore, SqliteStore};
    use oob::vault::SqliteVault;
    let mut leaks = Leaks::default();
    let cx = subject();

    let store = SqliteStore::<Secret>::open_in_memory().expect("open");
    let m = Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("valid base"))
        .build();
    let p = m.create(&cx, spec()).await.expect("create");
    m.create(&cx, spec()).await.expect("create");
    let vault = SqliteVault::<String>::from_store(m.store());
    let writer = vault.clone();
    m.complete_with(p, async move |token| {
        writer.put(&token, "github", SECRET.to_owned()).await
    })
    .await
    .expect("complete_with");
    leaks.debug("SqliteStore", m.store());
    leaks.debug("SqliteVault", &vault);
    leaks.debug("Manager<SqliteStore>", &m);
    let own = SqliteVault::<String>::open_in_memory().expect("open");
    own.put(&m.caller(&cx).expect("caller"), "github", SECRET.to_owned())
        .await
        .expect("put");
    leaks.debug("SqliteVault (in memory)", &own);

    // A builder whose URL carries a password: never connected, nothing to print.
    let url = format!("redis://:{SECRET}@127.0.0.1:1/");
    let builder = RedisStore::<Secret>::builder(redis::Client::open(url.as_str()).expect("client"))
        .prefix("redaction:");
    leaks.debug("RedisStoreBuilder", &builder);
    if let Some(server) = oob_tests::redis_server::RedisServer::start() {
        let client = redis::Client::open(server.url()).expect("client");
        let store = RedisStore::<Secret>::builder(client)
            .prefix("redaction:")
            .connect()
            .await
            .expect("connect");
        let m = Manager::builder()
            .store(store)
            .provider(FromVerifiedSubject)
            .callback_base(CallbackBase::parse("https://ex.com").expect("valid base"))
            .build();
        let p = m.create(&cx, spec()).await.expect("create");
        leaks.debug("RedisStore", m.store());
        leaks.debug("Manager<RedisStore>", &m);
        leaks.debug("Pending<Open> (redis)", &p);
        leaks.debug(
            "Pending<Completed> (redis)",
            &m.complete(p).await.expect("complete"),
        );
    }
    leaks.assert_none(10);
}

/// A payload of the same kind as [`Secret`] in another shape (a later version of it): a
/// stored `Secret` does not decode as one.
#[derive(Debug, Clone, OobPayload, serde::Serialize, serde::Deserialize)]
#[oob(kind = "secret_form", route = "/oob/secret/{id}")]
struct Reshaped {
    value: u64,
}

/// The same for a pending's payload: a store that reads a stored `Secret` as a
/// [`Reshaped`] fails with a decode error that prints nothing of the payload.
#[tokio::test]
async fn a_stored_payload_that_does_not_decode_prints_nothing_of_it() {
    use oob::store::{PostgresStore, RedisStore, SqliteStore};
    let mut leaks = Leaks::default();
    let cx = subject();
    let base = || CallbackBase::parse("https://ex.com").expect("valid base");
    let mut check = |what: &str, r: Result<AnyPending<Reshaped>, Error>| {
        let e = r.expect_err("no decode");
        assert!(
            matches!(e, Error::Store(StoreError::Decode(_))),
            "{what}: {e:?}"
        );
        leaks.chain(what, &e);
    };

    let db = oob_tests::sqlite_file::TempDb::new("redaction-store");
    let writer = Manager::builder()
        .store(SqliteStore::<Secret>::open(db.path()).expect("open"))
        .provider(FromVerifiedSubject)
        .callback_base(base())
        .build();
    let id = writer.create(&cx, spec()).await.expect("create").id();
    let reader = Manager::builder()
        .store(SqliteStore::<Reshaped>::open(db.path()).expect("open"))
        .provider(FromVerifiedSubject)
        .callback_base(base())
        .build();
    check("SqliteStore", reader.get(id).await);

    let server = oob_tests::redis_server::RedisServer::start();
    if let Some(server) = &server {
        let client = redis::Client::open(server.url()).expect("client");
        let writer = Manager::builder()
            .store(
                RedisStore::<Secret>::builder(client.clone())
                    .prefix("{redaction}:")
                    .connect()
                    .await
                    .expect("connect"),
            )
            .provider(FromVerifiedSubject)
            .callback_base(base())
            .build();
        let id = writer.create(&cx, spec()).await.expect("create").id();
        let reader = Manager::builder()
            .store(
                RedisStore::<Reshaped>::builder(client)
                    .prefix("{redaction}:")
                    .connect()
                    .await
                    .expect("connect"),
            )
            .provider(FromVerifiedSubject)
            .callback_base(base())
            .build();
        check("RedisStore", reader.get(id).await);
    }
    if let Some(pg) = oob_tests::postgres_server::shared() {
        let schema = oob_tests::postgres_server::fresh_schema();
        let pool = pg.pool(2).await;
        let store = PostgresStore::<Secret>::builder(pool.clone())
            .schema(&schema)
            .build()
            .await
            .expect("build");
        store.migrate().await.expect("migrate");
        let writer = Manager::builder()
            .store(store)
            .provider(FromVerifiedSubject)
            .callback_base(base())
            .build();
        let id = writer.create(&cx, spec()).await.expect("create").id();
        let store = PostgresStore::<Reshaped>::builder(pool)
            .schema(&schema)
            .build()
            .await
            .expect("build");
        let reader = Manager::builder()
            .store(store)
            .provider(FromVerifiedSubject)
            .callback_base(base())
            .build();
        check("PostgresStore", reader.get(id).await);
    }
    leaks.assert_none(12);
}
