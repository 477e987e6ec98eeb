//! The open counts the triggers keep (`oob_open`: per namespace, and per kind under the empty namespace),
//! their migration, and the query plans that keep a create's cost constant.

use std::time::Duration;

use rusqlite::{Connection, params};

use super::jobs::{NAMESPACE, TOTAL};
use super::schema::{MIGRATIONS, migrate};
use super::tests::{P, record_in as record};
use super::*;
use crate::namespace::Namespace;
use crate::store::NamespaceScope;
use crate::store::{CreateError, Dedup, Limits, NewRecord, Scope, Store, Wake};
use crate::time::Timestamp;

/// The counts against the rows: (the namespaces' counts, the kinds' totals, open rows).
fn counts(conn: &Connection) -> rusqlite::Result<(i64, i64, i64)> {
    let one = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
    Ok((
        one("SELECT COALESCE(SUM(open), 0) FROM oob_open WHERE namespace <> ''")?,
        one("SELECT COALESCE(SUM(open), 0) FROM oob_open WHERE namespace = ''")?,
        one("SELECT COUNT(*) FROM oob_pendings WHERE state = 'open'")?,
    ))
}

async fn check(store: &SqliteStore<P>) -> i64 {
    let (ns, total, rows) = store
        .db()
        .call(None, |conn, _| counts(conn))
        .await
        .expect("counts");
    assert_eq!((ns, total), (rows, rows));
    rows
}

/// The counts match the rows through inserts, transitions, deletes at zero retention, the
/// sweeps of expired rows at either bound, clear and purge.
#[tokio::test]
async fn open_counts_follow_the_rows() {
    let store = SqliteStore::<P>::open_in_memory()
        .expect("open")
        .with_retention(Duration::ZERO);
    let t0 = Timestamp::from_millis(1_000_000);
    let create = |ns: &'static str, at: Timestamp, limits: Limits| {
        let store = store.clone();
        async move {
            let r = record(ns, at);
            let id = r.id;
            store
                .create(&NewRecord::new(r), limits, Dedup::Never, at)
                .await
                .map(|_| id)
        }
    };
    let limits = Limits::new(3, usize::MAX);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(create("a", t0, limits).await.expect("create"));
    }
    assert_eq!(check(&store).await, 3);
    store
        .complete(ids[0], None, t0, Wake::Now)
        .await
        .expect("complete");
    store
        .cancel(ids[1], crate::state::CancelReason::Cancelled, None, t0)
        .await
        .expect("cancel");
    assert_eq!(check(&store).await, 1);
    // Past the deadline of the third (60 s), at the namespace bound: the sweep closes it.
    let later = t0.saturating_add(Duration::from_secs(61));
    for _ in 0..3 {
        create("a", later, limits).await.expect("after expiry");
    }
    assert_eq!(check(&store).await, 3);
    assert!(matches!(
        create("a", later, limits).await,
        Err(CreateError::Capacity(Scope::Namespace))
    ));
    // The total bound: 3 in `a` and 1 in `b` fill 4; past their deadlines, the total's
    // sweep closes them all.
    let total = Limits::new(10, 4);
    create("b", later, total).await.expect("fourth");
    assert!(matches!(
        create("c", later, total).await,
        Err(CreateError::Capacity(Scope::Total))
    ));
    let latest = later.saturating_add(Duration::from_secs(61));
    create("c", latest, total).await.expect("after expiry");
    assert_eq!(check(&store).await, 1);
    let a = Namespace::new("a").expect("namespace");
    assert_eq!(
        store
            .clear_namespace(NamespaceScope::new(&a))
            .await
            .expect("clear"),
        4
    );
    assert_eq!(check(&store).await, 1);
    store
        .purge(latest.saturating_add(Duration::from_secs(61)))
        .await
        .expect("purge");
    assert_eq!(check(&store).await, 0);
    let rows: i64 = store
        .db()
        .call(None, |conn, _| {
            conn.query_row("SELECT COUNT(*) FROM oob_open", [], |r| r.get(0))
        })
        .await
        .expect("rows");
    assert_eq!(rows, 0);
}

/// A version 3 file with data (and a wrong count, as an older build's bug could have left)
/// is upgraded to version 4 with the counts recounted from its rows, and its records stay
/// readable and bounded.
#[tokio::test]
async fn a_version_3_file_is_upgraded_with_its_counts() {
    let path = super::tests::temp_path();
    let mut conn = Connection::open(&path).expect("open");
    let tx = conn.transaction().expect("tx");
    for step in &MIGRATIONS[..3] {
        tx.execute_batch(step).expect("v3 schema");
    }
    tx.pragma_update(None, "user_version", 3).expect("version");
    let now = 1_000_000i64;
    let insert = |ns: &str, kind: &str, state: &str, expires_at: i64, finished: Option<i64>| {
        let id = PendingId::random();
        tx.execute(
            "INSERT INTO oob_pendings (id, namespace, kind, data, created_at, expires_at, \
             state, finished_at) VALUES (?1, ?2, ?3, '{\"n\":1}', ?4, ?5, ?6, ?7)",
            params![
                &id.as_bytes()[..],
                ns,
                kind,
                now,
                expires_at,
                state,
                finished
            ],
        )
        .expect("insert");
        id
    };
    let kept = insert("a", "p", "open", now + 60_000, None);
    insert("a", "p", "open", now + 120_000, None);
    insert("b", "p", "open", now + 60_000, None);
    insert("b", "p", "completed", now + 60_000, Some(now));
    insert("a", "q", "open", now + 60_000, None);
    // Closed as expired by a version 3 build: no `finished_at`.
    insert("a", "p", "expired", now + 10_000, None);
    tx.execute("UPDATE oob_open SET open = 7 WHERE namespace = 'b'", [])
        .expect("skew");
    tx.commit().expect("commit");
    migrate(&mut conn).expect("migrate");
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .expect("version");
    assert_eq!(version, SCHEMA_VERSION);
    assert_eq!(counts(&conn).expect("counts"), (4, 4, 4));
    let per_kind: Vec<(String, i64, i64)> = conn
        .prepare("SELECT kind, open, earliest FROM oob_open WHERE namespace = '' ORDER BY kind")
        .and_then(|mut st| {
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .expect("totals");
    assert_eq!(
        per_kind,
        [
            ("p".to_owned(), 3, now + 60_000),
            ("q".to_owned(), 1, now + 60_000)
        ]
    );
    drop(conn);
    let store = SqliteStore::<P>::open(&path).expect("reopen");
    let at = Timestamp::from_millis(1_000_000);
    assert!(store.get(kept, at).await.expect("get").is_some());
    assert!(matches!(
        store
            .create(
                &NewRecord::new(record("c", at)),
                Limits::new(10, 3),
                Dedup::Never,
                at
            )
            .await,
        Err(CreateError::Capacity(Scope::Total))
    ));
    assert_eq!(check(&store).await, 4);
    // Purge finds the finished rows, the one closed as expired by its deadline.
    let cutoff = Timestamp::from_millis(1_010_000).saturating_add(DEFAULT_RETENTION);
    assert_eq!(store.purge(cutoff).await.expect("purge"), 2);
    assert_eq!(check(&store).await, 4);
    drop(store);
}

/// The statements a create runs at a bound, and purge, read indexes, never the whole table:
/// the count rows by their keys, the expired open rows and the next deadline through the
/// `(namespace, state, kind, expires_at)` index or the partial index of open rows, purge's
/// finished rows through `(kind, state, finished_at)`.
#[test]
fn a_create_at_a_bound_reads_only_indexes() {
    let conn = worker::setup(None, SqliteOptions::default()).expect("setup");
    let plan = |sql: &str| -> String {
        let mut st = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .expect("prepare");
        let n = st.parameter_count();
        st.query_map(rusqlite::params_from_iter(std::iter::repeat_n(0, n)), |r| {
            r.get::<_, String>(3)
        })
        .and_then(Iterator::collect::<rusqlite::Result<Vec<_>>>)
        .expect("plan")
        .join("; ")
    };
    for (sql, index) in [
        (NAMESPACE.read, "PRIMARY KEY"),
        (NAMESPACE.close, "oob_pendings_ns_state"),
        (NAMESPACE.earliest, "oob_pendings_ns_state"),
        (TOTAL.read, "PRIMARY KEY"),
        (TOTAL.close, "oob_pendings_open"),
        (TOTAL.earliest, "oob_pendings_open"),
        // Only the finished rows of the kind and state whose time is up (an index on the
        // finish time alone read every finished row up to the cutoff, of every kind).
        (
            store::PURGE,
            "oob_pendings_finished (kind=? AND state=? AND finished_at<?)",
        ),
        (store::PURGE, "oob_pendings_open"),
    ] {
        let plan = plan(sql);
        assert!(plan.contains(index), "{sql}: {plan}");
        assert!(!plan.contains("SCAN oob_pendings"), "{sql}: {plan}");
    }
}
