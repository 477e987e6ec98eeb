//! Reads filter by kind on every store: two payload types whose JSON is the same, in one
//! backend (one SQLite file, one Redis prefix, one Postgres schema). A pending of one kind
//! is not found, transitioned, listed, joined or cleared through a store of the other.
//!
//! Redis and Postgres run when their servers are installed (with `CI` set, a missing server
//! is a failure). A decline cools down its own kind only, and a purge through one kind
//! forgets only that kind's records.

use std::time::Duration;

use oob::state::CancelReason;
use oob::store::{PostgresStore, RedisStore, SqliteStore, Store};
use oob::time::Clock;
use oob::{AnyPending, Manager};
use oob::{Error, Joined, OobPayload, PendingId, Spec};
use oob_tests::conformance::{Opts, manager_on};
use oob_tests::postgres_server::{PostgresServer, fresh_schema};
use oob_tests::redis_server::RedisServer;
use oob_tests::sqlite_file::TempDb;
use oob_tests::{DeviceCode, manager_of, spec, user};

/// The same fields as [`DeviceCode`], another kind.
#[derive(Debug, Clone, PartialEq, Eq, OobPayload, serde::Serialize, serde::Deserialize)]
#[oob(kind = "other_code", route = "/oob/other/{id}")]
struct OtherCode {
    verify_url: String,
    user_code: String,
    message: String,
}

async fn kinds_do_not_see_each_other<P, Q>(p: P, q: Q)
where
    P: Store<DeviceCode>,
    Q: Store<OtherCode>,
{
    let (mp, mq) = (manager_of(p), manager_of(q));
    let open = mp
        .create(&user("a"), spec().alias("k"))
        .await
        .expect("create");
    let id: PendingId = open.id();
    assert!(matches!(mq.get(id).await, Err(Error::NotFound(_))));
    assert!(matches!(mq.complete_id(id).await, Err(Error::NotFound(_))));
    assert!(matches!(
        mq.cancel_id(id, CancelReason::Declined, None).await,
        Err(Error::NotFound(_))
    ));
    assert!(mq.list(&user("a")).await.expect("list").is_empty());
    let other = Spec::new(OtherCode {
        verify_url: "https://ex.com/device".into(),
        user_code: "ABCD-1234".into(),
        message: "Enter the code".into(),
    })
    .resource("example.com")
    .alias("k");
    match mq.create_or_join(&user("a"), other).await {
        Ok(Joined::Created(c)) => assert_ne!(c.id(), id),
        other => panic!("expected a pending of the other kind, got {other:?}"),
    }
    assert_eq!(mq.clear(&user("a")).await.expect("clear"), 1);
    // The first kind's pending is untouched.
    mp.complete(open).await.expect("complete");
}

/// Two stores, one of each kind, on one Redis prefix.
async fn redis_pair(
    server: &RedisServer,
    prefix: &str,
) -> (RedisStore<DeviceCode>, RedisStore<OtherCode>) {
    let client = redis::Client::open(server.url()).expect("client");
    let p = RedisStore::<DeviceCode>::builder(client.clone())
        .prefix(prefix)
        .connect()
        .await
        .expect("connect");
    let q = RedisStore::<OtherCode>::builder(client)
        .prefix(prefix)
        .connect()
        .await
        .expect("connect");
    (p, q)
}

/// Two stores, one of each kind, on one Postgres schema.
async fn postgres_pair(
    server: &PostgresServer,
) -> (PostgresStore<DeviceCode>, PostgresStore<OtherCode>) {
    let pool = server.pool(4).await;
    let schema = fresh_schema();
    let p = PostgresServer::store(&pool, &schema, Duration::from_secs(300)).await;
    let q = PostgresStore::<OtherCode>::builder(pool.clone())
        .schema(&schema)
        .build()
        .await
        .expect("build");
    (p, q)
}

/// One test per backend running `$case` on two stores of different kinds that share it
/// (one SQLite file, one Redis prefix, one Postgres schema).
macro_rules! on_every_backend {
    ($case:ident, $prefix:literal: $sqlite:ident, $redis:ident, $postgres:ident) => {
        #[tokio::test]
        async fn $sqlite() {
            let db = TempDb::new(stringify!($case));
            let p = SqliteStore::<DeviceCode>::open(db.path()).expect("open");
            let q = SqliteStore::<OtherCode>::open(db.path()).expect("open again");
            $case(p, q).await;
        }

        #[tokio::test]
        async fn $redis() {
            let Some(server) = RedisServer::start() else {
                return;
            };
            let (p, q) = redis_pair(&server, $prefix).await;
            $case(p, q).await;
        }

        #[tokio::test]
        async fn $postgres() {
            let Some(server) = PostgresServer::start() else {
                return;
            };
            let (p, q) = postgres_pair(&server).await;
            $case(p, q).await;
        }
    };
}

on_every_backend!(kinds_do_not_see_each_other, "kinds:":
    sqlite_reads_filter_by_kind, redis_reads_filter_by_kind, postgres_reads_filter_by_kind);

/// A prefix must end with `:`: prefix `oo` with kind `bx` and prefix `oob` with kind `x`
/// would share every key (one store listed, counted and cleared the other's records).
#[tokio::test]
async fn redis_refuses_a_prefix_that_could_run_into_a_kind() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let client = redis::Client::open(server.url()).expect("client");
    for prefix in ["oob", "", "{oob}"] {
        let refused = RedisStore::<DeviceCode>::builder(client.clone())
            .prefix(prefix)
            .connect()
            .await;
        match refused {
            Err(e) => assert!(
                format!("{e:?}").contains("the prefix must end with `:`"),
                "{prefix:?}: {e:?}"
            ),
            Ok(_) => panic!("prefix {prefix:?} accepted"),
        }
    }
}

/// Postgres, zero retention: every kind of a schema shares one event channel, and a
/// finished record's event carries its row. A waiter of the other kind on the same id is
/// not handed that row (the record, its payload and its namespace), it answers `NotFound`.
/// Before, the listener took a row it found no row of its own kind for as the record
/// (found in review, 2026-12-07: the waiter got `Completed` with the other kind's payload).
#[tokio::test]
async fn postgres_a_waiter_of_another_kind_is_not_handed_the_event_row() {
    let Some(server) = PostgresServer::start() else {
        return;
    };
    let schema = fresh_schema();
    let p = PostgresServer::store(&server.pool(4).await, &schema, Duration::ZERO).await;
    let q = PostgresStore::<OtherCode>::builder(server.pool(4).await)
        .schema(&schema)
        .retention(Duration::ZERO)
        .build()
        .await
        .expect("build");
    let (mp, mq) = (manager_of(p), manager_of(q));
    for _ in 0..3 {
        let id = mp.create(&user("a"), spec()).await.expect("create").id();
        let waiting = tokio::spawn({
            let mq = mq.clone();
            async move { mq.wait(id, Duration::from_secs(5)).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        mp.complete_id(id).await.expect("complete");
        let got = waiting.await.expect("join");
        assert!(matches!(got, Err(Error::NotFound(_))), "{got:?}");
    }
}

/// A manager with a decline cooldown of a minute.
fn cooling_manager<T, S>(store: S) -> Manager<T, S, oob::provider::FromVerifiedSubject>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    S: Store<T>,
{
    Manager::builder()
        .store(store)
        .provider(oob::provider::FromVerifiedSubject)
        .callback_base(oob::CallbackBase::parse("https://ex.com").expect("valid base"))
        .decline_cooldown(Duration::from_secs(60))
        .build()
}

/// Two kinds in one backend: a decline of one kind does not answer (cool down) a
/// `create_or_join` of the other kind with the same namespace, alias and resource (found by
/// mutation testing: SQLite's latest-decline query could drop its kind and no test saw it).
async fn a_decline_cools_down_its_own_kind_only<P, Q>(p: P, q: Q)
where
    P: Store<DeviceCode>,
    Q: Store<OtherCode>,
{
    let (mp, mq) = (cooling_manager(p), cooling_manager(q));
    let declined = mp
        .create(&user("a"), spec().alias("k"))
        .await
        .expect("create");
    mp.decline(declined).await.expect("decline");
    let other = Spec::new(OtherCode {
        verify_url: "https://ex.com/device".into(),
        user_code: "ABCD-1234".into(),
        message: "Enter the code".into(),
    })
    .resource("example.com")
    .alias("k");
    match mq.create_or_join(&user("a"), other).await {
        Ok(Joined::Created(_)) => {}
        other => panic!("expected a pending of the other kind, got {other:?}"),
    }
}

on_every_backend!(a_decline_cools_down_its_own_kind_only, "{dk}:":
    sqlite_a_decline_cools_down_its_own_kind_only,
    redis_a_decline_cools_down_its_own_kind_only,
    postgres_a_decline_cools_down_its_own_kind_only);

/// Two kinds on one SQLite file with their own retention windows: a purge through one kind's
/// store forgets only that kind's records; another kind's record expired a while ago stays
/// readable (expired) for its own, longer window.
#[tokio::test]
async fn sqlite_a_purge_of_one_kind_keeps_another_kinds_expired_records() {
    let db = TempDb::new("purge-kinds");
    let p = SqliteStore::<DeviceCode>::open(db.path())
        .expect("open")
        .with_retention(Duration::from_secs(3_600));
    let q = SqliteStore::<OtherCode>::open(db.path())
        .expect("open again")
        .with_retention(Duration::from_secs(1));
    let (mp, clock) = manager_on(p, Opts::default());
    let id = mp
        .create(&user("a"), spec().ttl(Duration::from_secs(10)))
        .await
        .expect("create")
        .id();
    clock.advance(Duration::from_secs(60));
    assert_eq!(q.purge(clock.now()).await.expect("purge the other kind"), 0);
    assert!(matches!(mp.get(id).await, Ok(AnyPending::Expired(_))));
}
