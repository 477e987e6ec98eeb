//! How a batch's jobs fail: a failing create writes nothing (the expired rows it closed
//! first are reopened with its savepoint), a transaction SQLite rolled back by itself fails
//! the rest of the batch without running it, reads answer while another connection holds
//! the write lock, and rows closed as expired without `finished_at` (by a v3 process) are
//! still purged.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode};

use super::schema::MIGRATIONS;
use super::tests::temp_path;
use super::*;
use crate::namespace::Namespace;
use crate::payload::OobPayload;
use crate::store::NamespaceScope;
use crate::store::{Body, CreateError, Dedup, Limits, NewRecord, Record, RecordState, Store};
use crate::time::Timestamp;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Big {
    s: String,
}

impl OobPayload for Big {
    const KIND: &'static str = "big";
    const ROUTE: &'static str = "/big/{id}";
}

const NOW: Timestamp = Timestamp::from_millis(1_000_000);

fn record(size: usize) -> Record<Big> {
    Record::new(
        PendingId::random(),
        Namespace::new("a").expect("namespace"),
        NOW,
        NOW.saturating_add(Duration::from_secs(60)),
        RecordState::Open,
        Arc::new(Body::new(
            Big {
                s: "x".repeat(size),
            },
            None,
            None,
            None,
        )),
    )
}

async fn create(
    store: &SqliteStore<Big>,
    r: &Record<Big>,
    limits: Limits,
    now: Timestamp,
) -> Result<(), CreateError> {
    store
        .create(&NewRecord::new(r.clone()), limits, Dedup::Never, now)
        .await
        .map(|_| ())
}

async fn sql<R: Send + 'static>(
    store: &SqliteStore<Big>,
    f: impl FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
) -> R {
    store
        .db()
        .call(None, move |conn, _| f(conn))
        .await
        .expect("raw sql")
}

/// Caps the file at the pages it has: a statement needing a new page fails with
/// `SQLITE_FULL`.
async fn cap(store: &SqliteStore<Big>) {
    sql(store, |conn| {
        let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        conn.pragma_update_and_check(None, "max_page_count", pages, |r| r.get::<_, i64>(0))
    })
    .await;
}

async fn state_of(store: &SqliteStore<Big>, id: PendingId) -> Option<(String, Option<i64>)> {
    sql(store, move |conn| {
        use rusqlite::OptionalExtension;
        conn.query_row(
            "SELECT state, finished_at FROM oob_pendings WHERE id = ?1",
            [&id.as_bytes()[..]],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
    })
    .await
}

/// The rusqlite error code in `e`'s source chain.
fn code(e: &(dyn StdError + 'static)) -> Option<ErrorCode> {
    let mut cur = Some(e);
    while let Some(e) = cur {
        let found = e
            .downcast_ref::<rusqlite::Error>()
            .or_else(|| e.downcast_ref::<Arc<rusqlite::Error>>().map(|a| &**a));
        if let Some(code) = found.and_then(rusqlite::Error::sqlite_error_code) {
            return Some(code);
        }
        cur = e.source();
    }
    None
}

/// A create at its bound with a deadline passed closes the expired rows, then inserts; when
/// the insert fails (the file is full), the closing is rolled back with it.
#[tokio::test]
async fn a_failing_job_leaves_no_partial_write() {
    let path = temp_path();
    let store = SqliteStore::<Big>::open(&path).expect("open");
    let old = record(1);
    create(&store, &old, Limits::new(1, usize::MAX), NOW)
        .await
        .expect("create");
    cap(&store).await;
    let deadline = old.expires_at;
    let err = create(
        &store,
        &record(200_000),
        Limits::new(1, usize::MAX),
        deadline,
    )
    .await
    .expect_err("the file is full");
    assert_eq!(code(&err), Some(ErrorCode::DiskFull), "{err:?}");
    assert_eq!(
        state_of(&store, old.id).await,
        Some(("open".to_owned(), None)),
        "the expired row closed by the failed create is open again"
    );
}

/// Runs `middle` in one batch between two creates; returns the creates' records and the
/// three results.
async fn batch_around<R: Send + 'static>(
    store: &SqliteStore<Big>,
    middle: impl FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
) -> (
    [(Record<Big>, Result<(), CreateError>); 2],
    Result<R, StoreError>,
) {
    let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
    let (running_tx, running_rx) = tokio::sync::oneshot::channel::<()>();
    // Holds the connection thread, in a batch of its own, until the three jobs below are
    // queued: they then run in one batch. They are queued only once the gate's job runs
    // (its batch was taken before: else the thread could take the gate's job with the
    // first of them, and that one would commit apart from the others).
    let gate = store.db().call(None, move |_, _| {
        let _ = running_tx.send(());
        let _ = gate_rx.recv();
        Ok(())
    });
    let (a, c) = (record(1), record(1));
    let before = create(store, &a, Limits::default(), NOW);
    let middle = store.db().call(None, move |conn, _| middle(conn));
    let after = create(store, &c, Limits::default(), NOW);
    let the_three = async {
        running_rx.await.expect("the gate's job runs");
        // Polled in order: the three are queued before the gate opens.
        let (before, middle, after, ()) = tokio::join!(before, middle, after, async {
            gate_tx.send(()).expect("open the gate");
        });
        (before, middle, after)
    };
    let ((), (before, middle, after)) = tokio::join!(
        async {
            gate.await.expect("the gate's batch");
        },
        the_three
    );
    ([(a, before), (c, after)], middle)
}

/// A job failing with `SQLITE_FULL` in a batch: every job reported failed wrote nothing,
/// every job reported done is stored.
#[tokio::test]
async fn a_full_file_fails_only_what_it_stopped() {
    let path = temp_path();
    let store = SqliteStore::<Big>::open(&path).expect("open");
    sql(&store, |conn| {
        conn.execute_batch("CREATE TABLE filler (x BLOB)")
    })
    .await;
    cap(&store).await;
    let (creates, fill) = batch_around(&store, |conn| {
        conn.execute("INSERT INTO filler VALUES (randomblob(200000))", [])
    })
    .await;
    let err = fill.expect_err("the file is full");
    assert_eq!(code(&err), Some(ErrorCode::DiskFull), "{err:?}");
    for (r, out) in creates {
        let stored = state_of(&store, r.id).await.is_some();
        assert_eq!(out.is_ok(), stored, "reported {out:?}, stored: {stored}");
    }
    let filled: i64 = sql(&store, |conn| {
        conn.query_row("SELECT COUNT(*) FROM filler", [], |r| r.get(0))
    })
    .await;
    assert_eq!(filled, 0);
}

/// A job after which the transaction is gone (as when SQLite rolls it back by itself on
/// `SQLITE_FULL`, `IOERR`, `NOMEM` or `BUSY`) ends the batch: the jobs before it lost their
/// writes and the jobs after it do not run, so each reports an error and none is stored
/// (before, the later jobs ran in autocommit and were stored, then reported failed when
/// `COMMIT` found no transaction).
#[tokio::test]
async fn a_transaction_lost_in_a_job_fails_the_rest_of_the_batch() {
    let path = temp_path();
    let store = SqliteStore::<Big>::open(&path).expect("open");
    let (creates, lost) = batch_around(&store, |conn| conn.execute_batch("ROLLBACK")).await;
    assert!(lost.is_err(), "the job that lost the transaction fails");
    for (r, out) in creates {
        assert!(out.is_err(), "reported {out:?}");
        assert_eq!(state_of(&store, r.id).await, None, "nothing stored");
    }
    // The store carries on.
    create(&store, &record(1), Limits::default(), NOW)
        .await
        .expect("create after the failed batch");
}

/// While another connection (another process) holds the write lock past the busy timeout,
/// reads still answer (a WAL read needs no write lock) and writes fail with SQLite's busy
/// error, having written nothing.
#[tokio::test]
async fn reads_answer_while_another_connection_holds_the_write_lock() {
    let path = temp_path();
    let store = SqliteStore::<Big>::open_with(
        &path,
        SqliteOptions::default().busy_timeout(Duration::from_millis(50)),
    )
    .expect("open");
    let r = record(1);
    create(&store, &r, Limits::default(), NOW)
        .await
        .expect("create");
    let other = Connection::open(&path).expect("second connection");
    other
        .execute_batch("BEGIN IMMEDIATE")
        .expect("hold the write lock");

    let got = store.get(r.id, NOW).await.expect("get while locked");
    assert_eq!(got.map(|g| g.id), Some(r.id));
    let listed = store
        .list_namespace(NamespaceScope::new(&r.namespace), NOW)
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);

    let blocked = record(1);
    let err = create(&store, &blocked, Limits::default(), NOW)
        .await
        .expect_err("create while locked");
    assert!(matches!(err, CreateError::Store(StoreError::Backend(_))));
    assert_eq!(code(&err), Some(ErrorCode::DatabaseBusy), "{err:?}");
    // A read and a write queued together: the read answers, the write fails.
    let mixed = record(1);
    let (read, write) = tokio::join!(
        store.get(r.id, NOW),
        create(&store, &mixed, Limits::default(), NOW)
    );
    assert!(read.expect("get beside a failing create").is_some());
    assert!(write.is_err());

    other.execute_batch("COMMIT").expect("release");
    for id in [blocked.id, mixed.id] {
        assert!(
            store.get(id, NOW).await.expect("get").is_none(),
            "nothing written"
        );
    }
    create(&store, &blocked, Limits::default(), NOW)
        .await
        .expect("create once the lock is free");
}

/// A v3 process still running on an upgraded file closes expired rows without setting
/// `finished_at`; the row is still purged at its deadline plus the retention.
#[tokio::test]
async fn rows_closed_without_finished_at_are_purged() {
    let path = temp_path();
    let store = SqliteStore::<Big>::open(&path).expect("open");
    let r = record(1);
    create(&store, &r, Limits::default(), NOW)
        .await
        .expect("create");
    // v3's closing statement.
    sql(&store, |conn| {
        conn.execute(
            "UPDATE oob_pendings SET state = 'expired' WHERE namespace = 'a' \
             AND state = 'open' AND kind = 'big' AND expires_at <= ?1",
            [i64::MAX],
        )
    })
    .await;
    let end = r.expires_at.saturating_add(store.retention());
    let before = Timestamp::from_millis(end.as_millis() - 1);
    assert_eq!(store.purge(before).await.expect("purge"), 0);
    assert_eq!(store.purge(end).await.expect("purge"), 1);
    assert_eq!(state_of(&store, r.id).await, None);
}

/// Rows a v3 process closed without `finished_at` before this build opened the file are
/// given their deadline as `finished_at` by the migration, and purged by it.
#[tokio::test]
async fn rows_closed_without_finished_at_before_the_upgrade_are_purged() {
    let path = temp_path();
    let conn = Connection::open(&path).expect("raw open");
    for step in &MIGRATIONS[..4] {
        conn.execute_batch(step).expect("migrate to v4");
    }
    conn.pragma_update(None, "user_version", 4).expect("v4");
    let id = PendingId::random();
    conn.execute(
        "INSERT INTO oob_pendings (id, namespace, kind, data, created_at, expires_at, state) \
         VALUES (?1, 'a', 'big', '{\"s\":\"x\"}', 0, 5000, 'expired')",
        [&id.as_bytes()[..]],
    )
    .expect("a row closed by v3");
    drop(conn);
    let store = SqliteStore::<Big>::open(&path)
        .expect("open")
        .with_retention(Duration::from_secs(1));
    assert_eq!(
        store
            .purge(Timestamp::from_millis(5_999))
            .await
            .expect("purge"),
        0
    );
    assert_eq!(
        store
            .purge(Timestamp::from_millis(6_000))
            .await
            .expect("purge"),
        1
    );
    assert_eq!(state_of(&store, id).await, None);
}

/// While the connection thread is held, at most `QUEUE_BOUND` jobs are queued: the next
/// caller waits for a permit (nothing of it is queued), and goes on once jobs finish. The
/// queue grew without bound before (found in review, 2026-12-07: 50,000 creates while
/// another process held the write lock took 89 MB).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_is_bounded_and_a_caller_past_it_waits() {
    use std::future::Future;
    use std::task::Poll;

    let store = SqliteStore::<Big>::open_in_memory().expect("open");
    let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
    let gate = store.db().call(None, move |_, _| {
        let _ = gate_rx.recv();
        Ok(())
    });
    let mut gate = Box::pin(gate);
    // Queued: the gate, then jobs up to the bound.
    let mut queued: Vec<_> = (1..super::worker::QUEUE_BOUND)
        .map(|_| Box::pin(store.db().call(None, |_, _| Ok(()))))
        .collect();
    /// Whether `f` is done after one poll (outside tokio's cooperative budget, which would
    /// make a semaphore answer "not yet" after a hundred or so polls in one task).
    async fn ready_now<F: Future + Unpin>(f: &mut F) -> bool {
        tokio::task::unconstrained(std::future::poll_fn(|cx| {
            Poll::Ready(std::pin::Pin::new(&mut *f).poll(cx).is_ready())
        }))
        .await
    }
    assert!(!ready_now(&mut gate).await);
    for q in &mut queued {
        assert!(!ready_now(q).await, "queued, not done");
    }
    // A caller past the bound waits for a permit: dropped meanwhile, nothing of it was
    // queued (a queued write runs whatever became of its caller).
    let mut dropped = Box::pin(store.db().call(None, |conn, _| {
        conn.execute_batch("CREATE TABLE dropped (x)")
    }));
    assert!(!ready_now(&mut dropped).await);
    drop(dropped);
    let mut past = Box::pin(store.db().call(None, |_, _| Ok(())));
    assert!(
        !ready_now(&mut past).await,
        "the caller past the bound waits"
    );
    gate_tx.send(()).expect("open the gate");
    gate.await.expect("gate");
    for q in queued {
        q.await.expect("queued job");
    }
    past.await.expect("the waiting caller's job runs");
    let tables: i64 = sql(&store, |conn| {
        conn.query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'dropped'",
            [],
            |r| r.get(0),
        )
    })
    .await;
    assert_eq!(tables, 0, "the dropped caller's job never ran");
}
