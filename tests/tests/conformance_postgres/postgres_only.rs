//! Behaviour of the Postgres store beyond the shared suite: what its tables keep, and what
//! it makes of change events it did not send.

use super::*;
use oob::provider::FromVerifiedSubject;
use oob::store::Scope;
use oob::store::{Store, Wake};
use oob::time::{Clock, SystemClock};
use oob::{CallbackBase, Error, Manager, Outcome, PendingId};
use oob_tests::{ns, spec, user};

type M = Manager<DeviceCode, PostgresStore<DeviceCode>, FromVerifiedSubject>;

async fn setup(retention: Duration) -> (PostgresStore<DeviceCode>, M) {
    let pool = server().pool(8).await;
    let store = PostgresServer::store(&pool, &fresh_schema(), retention).await;
    let m = manager(&store);
    (store, m)
}

/// A manager on `store`, on the system clock, with the default bounds.
fn manager(store: &PostgresStore<DeviceCode>) -> M {
    Manager::builder()
        .store(store.clone())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .clock(SystemClock)
        .build()
}

async fn create(m: &M, namespace: &str) -> PendingId {
    m.create(&Some(user(namespace)), spec())
        .await
        .expect("create")
        .id()
}

/// Whether the `counts` table has a row for `namespace`.
pub(super) async fn counted(store: &PostgresStore<DeviceCode>, namespace: &str) -> bool {
    let sql = format!(
        "SELECT count(*) FROM {}.counts WHERE namespace = $1",
        store.schema().as_str()
    );
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(namespace)
        .fetch_one(store.pool())
        .await
        .expect("count");
    n > 0
}

/// With zero retention, the namespace's zero `counts` row goes with a record completed
/// with `Wake::Later` once it is woken (the rest of that rule is the shared suite's
/// `zero_retention_wake_later_keeps_the_record_until_wake`).
#[tokio::test]
async fn zero_retention_wake_later_takes_the_zero_count_at_wake() {
    let (store, m) = setup(Duration::ZERO).await;
    let id = create(&m, "a").await;
    let now = SystemClock.now();
    let done = store
        .complete(id, Some(&ns("a")), now, Wake::Later)
        .await
        .expect("complete");
    assert!(store.get(id, now).await.expect("get").is_some());
    store.wake(&done).await.expect("wake");
    assert!(store.get(id, now).await.expect("get").is_none());
    assert!(
        !counted(&store, "a").await,
        "the zero count went with the record"
    );
}

/// A namespace's `counts` row goes once nothing of it is open: at the purge that removes
/// its last finished records, at a clear, and (zero retention) at the next purge after
/// its last record finished; capacity still counts from zero afterwards.
#[tokio::test]
async fn counts_rows_go_when_the_namespace_has_nothing_open() {
    let retention = Duration::from_secs(1);
    let (store, m) = setup(retention).await;
    let a = create(&m, "a").await;
    create(&m, "b").await;
    create(&m, "c").await;
    m.complete_id(a).await.expect("complete");
    assert!(counted(&store, "a").await);
    let later = SystemClock.now().saturating_add(retention * 2);
    assert_eq!(store.purge(later).await.expect("purge"), 1);
    assert!(!counted(&store, "a").await, "purged, nothing open");
    assert!(counted(&store, "b").await, "b is still open");
    m.operator().clear_namespace(&ns("c")).await.expect("clear");
    assert!(!counted(&store, "c").await, "cleared");
    create(&m, "a").await;
    assert!(counted(&store, "a").await, "made again by the next create");

    let (zero, mz) = setup(Duration::ZERO).await;
    let z = create(&mz, "z").await;
    mz.complete_id(z).await.expect("complete");
    assert!(counted(&zero, "z").await, "kept until the purge");
    zero.purge(SystemClock.now()).await.expect("purge");
    assert!(!counted(&zero, "z").await, "the purge deletes the zero row");
}

/// A refused create leaves no `counts` row behind: at a per-namespace bound of zero
/// (on both create paths) and at the total bound.
#[tokio::test]
async fn a_refused_create_leaves_no_counts_row() {
    let (store, _) = setup(Duration::from_secs(300)).await;
    let limited = |per_ns: usize, total: usize| -> M {
        Manager::builder()
            .store(store.clone())
            .provider(FromVerifiedSubject)
            .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
            .clock(SystemClock)
            .max_open_per_namespace(per_ns)
            .max_open_total(total)
            .build()
    };
    let none = limited(0, usize::MAX);
    let got = none.create(&Some(user("z")), spec()).await;
    assert!(
        matches!(got, Err(Error::Capacity(Scope::Namespace))),
        "{got:?}"
    );
    assert!(!counted(&store, "z").await, "no row for a bound of zero");
    let got = limited(0, 5).create(&Some(user("z")), spec()).await;
    assert!(
        matches!(got, Err(Error::Capacity(Scope::Namespace))),
        "{got:?}"
    );
    assert!(!counted(&store, "z").await, "no row for a bound of zero");
    let one = limited(5, 1);
    create(&one, "a").await;
    let got = one.create(&Some(user("b")), spec()).await;
    assert!(matches!(got, Err(Error::Capacity(Scope::Total))), "{got:?}");
    assert!(
        !counted(&store, "b").await,
        "no row for a create over the total"
    );
    assert!(counted(&store, "a").await);
}

#[path = "migrations.rs"]
mod migrations;

/// A forged event for a record the database holds completed, with the real state but its
/// own namespace and finish time: the waiter gets the database's row, never the event's
/// (with a retention rows in events are ignored; with zero retention the database's row
/// wins over the event's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_row_never_replaces_the_stored_outcome() {
    for retention in [Duration::from_secs(300), Duration::ZERO] {
        let (store, m) = setup(retention).await;
        let id = create(&m, "a").await;
        let waiter = {
            let m = m.clone();
            tokio::spawn(async move { m.wait(id, Duration::from_secs(30)).await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Completed in the tables with no event (`Wake::Later` sends none before `wake`).
        store
            .complete(id, Some(&ns("a")), SystemClock.now(), Wake::Later)
            .await
            .expect("complete");
        let s = store.schema().as_str().to_owned();
        let (data, created, expires, finished): (String, i64, i64, i64) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT data, created_at, expires_at, finished_at FROM {s}.finished \
                 WHERE id = $1::uuid"
            )))
            .bind(id.to_string())
            .fetch_one(store.pool())
            .await
            .expect("row");
        let forged = serde_json::json!({
            "id": id.to_string(), "namespace": "evil", "alias": null,
            "resource": "example.com", "elicit_id": null, "data": data,
            "created_at": created, "expires_at": expires, "state": "completed",
            "reason": null, "finished_at": created + 1,
        });
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(format!("{s}_events"))
            .bind(format!("{id} {forged}"))
            .execute(store.pool())
            .await
            .expect("notify");
        let out = tokio::time::timeout(Duration::from_secs(8), waiter)
            .await
            .expect("woken by the event (before the 10 s sweep)")
            .expect("join");
        match out {
            Ok(Outcome::Completed(p)) => {
                assert_eq!(p.namespace(), &ns("a"), "retention {retention:?}");
                let at = std::time::UNIX_EPOCH
                    + Duration::from_millis(u64::try_from(finished).expect("time"));
                assert_eq!(p.completed_at(), at, "retention {retention:?}");
            }
            other => panic!("retention {retention:?}: {other:?}"),
        }
    }
}

/// A transition or a read of one id finds its row by the primary key alone, however the
/// planner sees the tables: the indexes by kind (all of its rows) are never read (with
/// plain conditions on the kind and the deadline a transition read `pendings_expiry`, a
/// read `finished_purge`, dead rows too).
#[tokio::test]
async fn reads_of_one_id_never_scan_the_kind() {
    const PAIRS: i64 = 300;
    let (store, m) = setup(Duration::from_secs(300)).await;
    let mut done = Vec::new();
    for _ in 0..PAIRS {
        let id = create(&m, "a").await;
        m.complete_id(id).await.expect("complete");
        done.push(id);
    }
    for id in done {
        assert!(matches!(m.get(id).await, Ok(oob::AnyPending::Completed(_))));
    }
    // Backends report their index statistics when they exit.
    store.pool().close().await;
    let pool = server().pool(1).await;
    let sql = format!(
        "SELECT indexrelname::text, idx_scan FROM pg_stat_user_indexes \
         WHERE schemaname = '{}' AND relname IN ('pendings', 'finished')",
        store.schema().as_str()
    );
    // Per pair: the create's probe of `finished`, the transition, the read of both.
    let expected = 4 * PAIRS;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let scans = loop {
        let scans: Vec<(String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .fetch_all(&pool)
            .await
            .expect("statistics");
        if scans.iter().map(|(_, n)| n).sum::<i64>() >= expected
            || std::time::Instant::now() > deadline
        {
            break scans;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let keys: i64 = scans
        .iter()
        .filter(|s| s.0.ends_with("_pkey"))
        .map(|s| s.1)
        .sum();
    assert!(keys >= expected, "{scans:?}");
    for (name, n) in &scans {
        let by_kind = name == "pendings_expiry" || name == "finished_purge";
        assert!(!by_kind || *n == 0, "{name} was read: {scans:?}");
    }
}

/// Anyone who can connect can `NOTIFY` on the store's channel: a forged "completed" event
/// (with a well-formed row) for an open pending does not make a waiter answer it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_event_does_not_answer_a_waiter() {
    let (store, m) = setup(Duration::ZERO).await;
    let id = create(&m, "a").await;
    let s = store.schema().as_str().to_owned();
    let (data, created, expires): (String, i64, i64) = sqlx::query_as(sqlx::AssertSqlSafe(
        format!("SELECT data, created_at, expires_at FROM {s}.pendings WHERE id = $1::uuid"),
    ))
    .bind(id.to_string())
    .fetch_one(store.pool())
    .await
    .expect("row");
    let forged = serde_json::json!({
        "id": id.to_string(), "namespace": "a", "alias": null, "resource": "example.com",
        "elicit_id": null, "data": data, "created_at": created, "expires_at": expires,
        "state": "completed", "reason": null, "finished_at": created + 1,
    });
    let waiter = {
        let m = m.clone();
        tokio::spawn(async move { m.wait(id, Duration::from_secs(3)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(format!("{s}_events"))
        .bind(format!("{id} {forged}"))
        .execute(store.pool())
        .await
        .expect("notify");
    let out = waiter.await.expect("join");
    assert!(
        !matches!(out, Ok(Outcome::Completed(_))),
        "a forged event was answered"
    );
    // The pending is still open, and a real completion still reaches a waiter.
    let waiter = {
        let m = m.clone();
        tokio::spawn(async move { m.wait(id, Duration::from_secs(30)).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    m.complete_id(id).await.expect("still open");
    assert!(matches!(
        waiter.await.expect("join"),
        Ok(Outcome::Completed(_))
    ));
}

/// A row in `pendings` that another writer left finished (as a version 1 process, which
/// finished rows in place, would on a schema that no longer refuses it) is neither finished
/// again nor listed: the transition and the list check the state themselves.
#[tokio::test]
async fn a_finished_row_left_in_pendings_is_not_finished_again_nor_listed() {
    let (store, m) = setup(Duration::from_secs(300)).await;
    let id = create(&m, "a").await;
    let kept = create(&m, "a").await;
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {}.pendings SET state = 'completed' WHERE id = $1::uuid",
        store.schema().as_str()
    )))
    .bind(id.to_string())
    .execute(store.pool())
    .await
    .expect("finished in place");
    assert_eq!(done.rows_affected(), 1);
    let again = m.complete_id(id).await;
    assert!(again.is_err(), "finished twice: {again:?}");
    let listed: Vec<PendingId> = m
        .list(&Some(user("a")))
        .await
        .expect("list")
        .iter()
        .map(|p| p.id())
        .collect();
    assert_eq!(listed, vec![kept]);
}
