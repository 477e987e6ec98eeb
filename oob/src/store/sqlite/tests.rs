use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

use super::jobs::{CreateJob, CreateOutcome};
use super::row::NewRow;
use super::worker::setup;
use super::*;
use crate::namespace::Namespace;
use crate::payload::OobPayload;
use crate::store::NamespaceScope;
use crate::store::{
    Body, Dedup, Limits, NewRecord, Record, RecordState, Scope, Store, StoreError, TransitionError,
    Wake,
};
use crate::time::Timestamp;

/// The payload of the SQLite unit tests.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct P {
    n: u32,
}

impl OobPayload for P {
    const KIND: &'static str = "p";
    const ROUTE: &'static str = "/p/{id}";
}

/// A temporary database path, its files removed when dropped (also when a test fails).
pub(super) struct TempPath(std::path::PathBuf);

impl Drop for TempPath {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.0.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

impl AsRef<Path> for TempPath {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

pub(super) fn temp_path() -> TempPath {
    TempPath(std::env::temp_dir().join(format!("oob-unit-{}.db", PendingId::random())))
}

fn record(now: Timestamp) -> Record<P> {
    record_in("a", now)
}

/// An open record of namespace `ns`, created at `now`, due a minute later.
pub(super) fn record_in(ns: &str, now: Timestamp) -> Record<P> {
    Record::new(
        PendingId::random(),
        Namespace::new(ns).expect("namespace"),
        now,
        now.saturating_add(Duration::from_secs(60)),
        RecordState::Open,
        Arc::new(Body::new(P { n: 7 }, None, None, None)),
    )
}

async fn exec(store: &SqliteStore<P>, sql: &'static str) {
    store
        .db()
        .call(None, move |conn, _| conn.execute_batch(sql))
        .await
        .expect("raw sql");
}

/// Both bounds (namespace first), the primary key and expiry, in a batch's transaction: a
/// pending past its deadline stops counting against either bound at that millisecond.
#[test]
fn the_bounds_hold_in_a_batch_transaction() {
    let path = temp_path();
    let conn = setup(Some(path.as_ref()), SqliteOptions::default()).expect("setup");
    let now = Timestamp::from_millis(1_000_000);
    let deadline = now.saturating_add(Duration::from_secs(60));
    conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
    let create = |ns: &str, kind: &'static str, at: Timestamp, limits: Limits| {
        let mut r = record(at);
        r.namespace = Namespace::new(ns).expect("namespace");
        let job = CreateJob {
            row: NewRow::encode(&r).expect("encode"),
            kind,
            limits,
            dedup: Dedup::Never,
            retention: DEFAULT_RETENTION,
            now: at,
        };
        match job.run(&conn).expect("create") {
            CreateOutcome::Inserted => Ok(()),
            CreateOutcome::Full(scope) => Err(scope),
            _ => panic!("unexpected outcome"),
        }
    };
    let l = Limits::new(2, 3);
    create("a", "p", now, l).expect("first");
    create("a", "p", now, l).expect("second");
    create("b", "p", now, l).expect("third");
    // Both bounds exceeded: the namespace bound answers.
    assert_eq!(create("a", "p", now, l), Err(Scope::Namespace));
    assert_eq!(create("c", "p", now, l), Err(Scope::Total));
    // Another kind does not count against this one.
    create("a", "q", now, Limits::new(1, 1)).expect("kind");
    // One millisecond before the deadline (`record` gives 60 s) they still count; at it,
    // they no longer do: for the namespace bound (closing `a`'s two), then for the total
    // (`b`'s, still counted until the total reaches its bound again).
    let before = Timestamp::from_millis(deadline.as_millis() - 1);
    assert_eq!(create("a", "p", before, l), Err(Scope::Namespace));
    assert_eq!(create("c", "p", before, l), Err(Scope::Total));
    create("a", "p", deadline, l).expect("namespace bound after expiry");
    create("c", "p", deadline, l).expect("room in both");
    create("d", "p", deadline, l).expect("total bound after expiry");
    assert_eq!(create("e", "p", deadline, l), Err(Scope::Total));
    conn.execute_batch("COMMIT").expect("commit");
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM oob_pendings", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 7);
    drop(conn);
}

#[tokio::test]
async fn corrupt_rows_are_decode_errors_not_panics() {
    let store = SqliteStore::<P>::open_in_memory().expect("open");
    let now = Timestamp::from_millis(1_000_000);
    let r = record(now);
    store
        .create(
            &NewRecord::new(r.clone()),
            Limits::default(),
            Dedup::Never,
            now,
        )
        .await
        .expect("create");
    assert_eq!(
        store
            .get(r.id, now)
            .await
            .expect("get")
            .map(|g| g.body.data().clone()),
        Some(P { n: 7 })
    );

    exec(&store, "UPDATE oob_pendings SET data = '{not json'").await;
    assert!(matches!(
        store.get(r.id, now).await,
        Err(StoreError::Decode(_))
    ));
    let a = Namespace::new("a").expect("namespace");
    let ns = NamespaceScope::new(&a);
    assert!(matches!(
        store.list_namespace(ns, now).await,
        Err(StoreError::Decode(_))
    ));
    // The transition happens; decoding its result fails and says so.
    assert!(matches!(
        store.complete(r.id, None, now, Wake::Now).await,
        Err(TransitionError::Store(StoreError::Decode(_)))
    ));

    // Each corruption in turn (cumulative), each a decode error on read.
    for sql in [
        "UPDATE oob_pendings SET data = '{\"n\":1}', state = 'bogus'",
        "UPDATE oob_pendings SET state = 'completed', finished_at = NULL",
        "UPDATE oob_pendings SET state = 'cancelled', finished_at = 5, reason = 'x'",
        "UPDATE oob_pendings SET state = 'open', created_at = -5",
        "UPDATE oob_pendings SET created_at = 5, namespace = ''",
    ] {
        exec(&store, sql).await;
        assert!(
            matches!(store.get(r.id, now).await, Err(StoreError::Decode(_))),
            "{sql}"
        );
    }
    exec(
        &store,
        "INSERT INTO oob_pendings (id, namespace, kind, data, created_at, expires_at, state) \
         VALUES (x'0102', 'b', 'p', '{\"n\":1}', 0, 99999999999, 'open')",
    )
    .await;
    let b_ns = Namespace::new("b").expect("namespace");
    let b = NamespaceScope::new(&b_ns);
    let err = store.list_namespace(b, now).await.expect_err("bad id");
    assert!(matches!(err, StoreError::Decode(_)));
    // The source chain is kept.
    assert!(std::error::Error::source(&err).is_some());
    // Purge and clear still work on corrupt rows.
    assert_eq!(store.clear_namespace(b).await.expect("clear"), 1);
}

#[tokio::test]
async fn kinds_sharing_a_file_do_not_see_each_other() {
    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    struct Q;
    impl OobPayload for Q {
        const KIND: &'static str = "q";
        const ROUTE: &'static str = "/q/{id}";
    }
    let path = temp_path();
    let p = SqliteStore::<P>::open(&path).expect("open");
    let q = SqliteStore::<Q>::open(&path).expect("open again");
    let now = Timestamp::from_millis(1_000_000);
    let r = record(now);
    p.create(
        &NewRecord::new(r.clone()),
        Limits::default(),
        Dedup::Never,
        now,
    )
    .await
    .expect("create");
    assert!(q.get(r.id, now).await.expect("get").is_none());
    assert!(matches!(
        q.complete(r.id, None, now, Wake::Now).await,
        Err(TransitionError::NotFound)
    ));
    assert_eq!(
        q.clear_namespace(NamespaceScope::new(&r.namespace))
            .await
            .expect("clear"),
        0
    );
    assert!(p.get(r.id, now).await.expect("get").is_some());
    drop((p, q));
}

#[tokio::test]
async fn schema_is_versioned_and_newer_schemas_are_refused() {
    let path = temp_path();
    let store = SqliteStore::<P>::open(&path).expect("open");
    let v = store
        .db()
        .call(None, |conn, _| {
            conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
        })
        .await
        .expect("version");
    assert_eq!(v, SCHEMA_VERSION);
    let mode = store
        .db()
        .call(None, |conn, _| {
            conn.pragma_query_value(None, "journal_mode", |r| r.get::<_, String>(0))
        })
        .await
        .expect("mode");
    assert_eq!(mode, "wal");
    drop(store);
    // Opening again migrates nothing and keeps the data.
    let again = SqliteStore::<P>::open(&path).expect("reopen");
    drop(again);
    let conn = Connection::open(&path).expect("raw open");
    conn.pragma_update(None, "user_version", 99).expect("bump");
    drop(conn);
    let err = SqliteStore::<P>::open(&path).expect_err("newer schema");
    let source = std::error::Error::source(&err).expect("source");
    assert!(source.downcast_ref::<SchemaTooNew>().is_some());
}

#[tokio::test]
async fn full_synchronous_is_selectable() {
    let path = temp_path();
    let store = SqliteStore::<P>::open_with(
        &path,
        SqliteOptions::default().synchronous(Synchronous::Full),
    )
    .expect("open");
    let sync = store
        .db()
        .call(None, |conn, _| {
            conn.pragma_query_value(None, "synchronous", |r| r.get::<_, i64>(0))
        })
        .await
        .expect("synchronous");
    assert_eq!(sync, 2, "FULL");
    drop(store);
}

#[tokio::test]
async fn vault_is_namespaced_and_shares_the_store_file() {
    use crate::vault::{SqliteVault, Vault};
    use crate::{CallbackBase, Manager, Spec};
    let store = SqliteStore::<P>::open_in_memory().expect("open");
    let vault = SqliteVault::<String>::from_store(&store);
    let m = Manager::builder()
        .store(store)
        .provider(crate::provider::FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .build();
    let cx = crate::provider::VerifiedSubject::new(Namespace::new("alice").expect("ns"));
    let bob_cx = crate::provider::VerifiedSubject::new(Namespace::new("bob").expect("ns"));
    let open = m.create(&cx, Spec::new(P { n: 1 })).await.expect("create");
    let writer = vault.clone();
    let (_done, ()) = m
        .complete_with(open, async move |token| {
            writer.put(&token, "gh", "s3cret".to_owned()).await
        })
        .await
        .expect("complete_with");
    let alice = m.caller(&cx).expect("alice");
    let bob = m.caller(&bob_cx).expect("bob");
    assert_eq!(
        vault.get(&alice, "gh").await.expect("get").as_deref(),
        Some("s3cret")
    );
    assert_eq!(vault.get(&bob, "gh").await.expect("get"), None);
    assert!(!vault.delete(&bob, "gh").await.expect("delete"));
    assert!(vault.delete(&alice, "gh").await.expect("delete"));
    assert_eq!(vault.get(&alice, "gh").await.expect("get"), None);
}

/// A busy timeout longer than SQLite takes (`i32::MAX` ms) is that limit; rusqlite panicked
/// on the connection thread, and the store answered `WorkerGone`.
#[tokio::test]
async fn a_busy_timeout_past_sqlite_s_limit_is_the_limit() {
    let path = temp_path();
    let opts = SqliteOptions::default().busy_timeout(Duration::from_secs(30 * 86_400));
    let store = SqliteStore::<P>::open_with(&path, opts).expect("open");
    let now = Timestamp::from_millis(1_000);
    let r = record(now);
    let id = r.id;
    assert!(store.get(id, now).await.expect("get").is_none());
    assert!(setup(Some(path.as_ref()), opts).is_ok());
}
