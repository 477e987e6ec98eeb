//! Postgres with zero retention: a completion removes its row, so the event is the only copy
//! of the outcome for other replicas' waiters. A burst of completions on one replica tells
//! every waiter on the other one the outcome. Before, the listener checked at most four
//! event rows at once and turned the rest into bare wake-ups, whose re-read found no row:
//! 30 of 40 waiters answered `Removed` for pendings that had completed (found in review).
//! The same when that replica's pool is busy for a while: the check of an event's row is
//! tried again for about 18 s (it gave up after three tries, a few seconds).
//!
//! Runs when Postgres is installed (with `CI` set, a missing server is a failure).

use std::time::Duration;

use oob::provider::FromVerifiedSubject;
use oob::store::PostgresStore;
use oob::time::SystemClock;
use oob::{CallbackBase, Manager, Outcome};
use oob_tests::postgres_server::{PostgresServer, fresh_schema, shared};
use oob_tests::{DeviceCode, spawn_wait, spec, user};

const BURST: usize = 40;

type M = Manager<DeviceCode, PostgresStore<DeviceCode>, FromVerifiedSubject>;

fn on(store: PostgresStore<DeviceCode>) -> M {
    Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .clock(SystemClock)
        .max_open_per_namespace(10_000)
        .build()
}

type Waiter = tokio::task::JoinHandle<Result<Outcome<DeviceCode>, oob::Error>>;

/// `n` pendings created on `a`, each with a waiter on `b` (registered when this returns).
async fn waited_on(
    a: &M,
    b: &M,
    n: usize,
) -> (Vec<oob::Pending<DeviceCode, oob::state::Open>>, Vec<Waiter>) {
    let mut opens = Vec::new();
    for _ in 0..n {
        opens.push(a.create(&user("w"), spec()).await.expect("create"));
    }
    let waiters = opens
        .iter()
        .map(|p| spawn_wait(b, p.id(), Duration::from_secs(60)))
        .collect();
    let start = std::time::Instant::now();
    while b.store().watched() < n {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the waiters never registered"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (opens, waiters)
}

/// Every waiter was told `Completed`.
async fn all_completed(waiters: Vec<Waiter>) {
    let mut told = Vec::new();
    for w in waiters {
        told.push(w.await.expect("join").expect("wait"));
    }
    let completed = told
        .iter()
        .filter(|o| matches!(o, Outcome::Completed(_)))
        .count();
    assert_eq!(completed, told.len(), "{told:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_retention_a_burst_of_completions_reaches_every_waiter_of_another_replica() {
    let Some(server) = shared() else {
        return;
    };
    let schema = fresh_schema();
    let a = on(PostgresServer::store(&server.pool(8).await, &schema, Duration::ZERO).await);
    let b = on(PostgresServer::store(&server.pool(8).await, &schema, Duration::ZERO).await);
    let (opens, waiters) = waited_on(&a, &b, BURST).await;
    let mut completes = tokio::task::JoinSet::new();
    for p in opens {
        let a = a.clone();
        completes.spawn(async move { a.complete(p).await.map(|_| ()) });
    }
    while let Some(done) = completes.join_next().await {
        done.expect("join").expect("complete");
    }
    all_completed(waiters).await;
}

/// The other replica's pool is wholly taken for 12 s while the completions happen: the
/// checks of the events' rows wait for it, and every waiter still gets `Completed`. Before,
/// a check gave up after three tries (about 10 s with this pool's 3 s acquire timeout) and
/// its waiters answered `Removed` (found in the re-review).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_retention_a_busy_pool_delays_the_outcome_but_does_not_lose_it() {
    const N: usize = 8;
    let Some(server) = shared() else {
        return;
    };
    let schema = fresh_schema();
    let a = on(PostgresServer::store(&server.pool(8).await, &schema, Duration::ZERO).await);
    let pool_b = server.pool(3).await;
    let b = on(PostgresServer::store(&pool_b, &schema, Duration::ZERO).await);
    let (opens, waiters) = waited_on(&a, &b, N).await;
    // Every waiter has read its pending open by now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(pool_b.acquire().await.expect("a connection"));
    }
    for p in opens {
        a.complete(p).await.expect("complete");
    }
    tokio::time::sleep(Duration::from_secs(12)).await;
    drop(held);
    all_completed(waiters).await;
}

/// A check whose read stalls (the table it reads locked, as by a stalled server) is ended by
/// the server and gives its connection back: the checks of a flood of event rows hold at
/// most their four connections of the service's pool, and leave no query waiting on the
/// server. Before, each try cut off by the client left its connection checked out until the
/// server finished the abandoned query (17 of 30 connections), and then, closed instead, its
/// server process waiting (30 on a server whose pool allowed 10; found in the re-reviews).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_cut_off_hold_no_more_than_their_connections() {
    let Some(server) = shared() else {
        return;
    };
    let schema = fresh_schema();
    let pool = server.pool(30).await;
    let b = on(PostgresServer::store(&pool, &schema, Duration::ZERO).await);
    let p = b.create(&user("w"), spec()).await.expect("create");
    let id = p.id();
    let waiter = spawn_wait(&b, id, Duration::from_secs(60));
    while b.store().watched() == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let admin = server.pool(2).await;
    let mut lock = admin.begin().await.expect("begin");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "LOCK TABLE {schema}.finished IN ACCESS EXCLUSIVE MODE"
    )))
    .execute(&mut *lock)
    .await
    .expect("lock");
    let row = serde_json::json!({
        "id": id.to_string(), "namespace": "w", "alias": null, "resource": null,
        "elicit_id": null, "data": "{}", "created_at": 1, "expires_at": 2,
        "state": "completed", "reason": null, "finished_at": 1,
    });
    for _ in 0..4 {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(format!("{schema}_events"))
            .bind(format!("{id} {row}"))
            .execute(&admin)
            .await
            .expect("notify");
    }
    // On this process's pool, and on the server: no query left waiting behind a try.
    let (mut most, mut most_waiting) = (0, 0);
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(12) {
        most = most.max(pool.size() as usize - pool.num_idle());
        let waiting: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
             AND query LIKE '%{schema}.finished%'"
        )))
        .fetch_one(&admin)
        .await
        .expect("pg_stat_activity");
        most_waiting = most_waiting.max(waiting);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    lock.commit().await.expect("release");
    waiter.abort();
    assert!(most <= 5, "{most} connections in use");
    assert!(
        most_waiting <= 5,
        "{most_waiting} queries waiting on the server"
    );
}
