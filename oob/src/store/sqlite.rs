//! [`SqliteStore`]: the embedded, durable store (feature `sqlite`).
//!
//! # Layout
//!
//! One table, `oob_pendings`, keyed by the 16-byte id. Each row holds the payload as JSON
//! (so `T` must be `Serialize + DeserializeOwned`), its labels (alias, resource, elicitation
//! id), the payload kind ([`OobPayload::KIND`], so several payload types can share one
//! file), the namespace, the times in milliseconds since the Unix epoch, the state
//! (`open`, `completed`, `cancelled`, `expired`) with the cancel reason and when it finished.
//! Indexes: the primary key on id (rows themselves are kept in insertion order, so only
//! the small id index takes random writes), `(namespace, state, kind, expires_at)` (the
//! capacity count and namespace listing read it alone), `expires_at` and `finished_at`
//! (purge).
//! The schema is versioned with `PRAGMA user_version` and migrated by [`migrate`] on open.
//!
//! # Threading
//!
//! SQLite calls block, so none of them runs on the async executor. Each database is served
//! by one dedicated thread that owns its connection. Callers send it jobs over a channel and
//! await a oneshot reply. The thread drains whatever jobs are queued (up to 256) and runs
//! them in a single `BEGIN IMMEDIATE` … `COMMIT` transaction, replying only after the
//! commit (group commit). Every job issues at most one writing statement, so each job is
//! atomic on its own and a failing job never leaves a partial write; if the commit fails,
//! every job of the batch gets the error. A create counts the namespace's open records and
//! then inserts (nothing else writes inside the batch's immediate transaction; outside one,
//! it is a single `INSERT … SELECT … WHERE count < bound`, which costs SQLite a temporary
//! table because it reads the table it writes); a duplicate id fails on the primary key. A
//! transition is one `UPDATE … WHERE id = ? AND state = 'open' AND expires_at > ?` guarded
//! by a read of the row in the same job, and no statement binds a `LIMIT` (SQLite would
//! re-prepare it on every call).
//! With one task this costs one thread hop per call;
//! under concurrency it turns N commits into one, which is what makes create + complete
//! pairs fast. (A `spawn_blocking` + mutex design pays the same hop plus a commit and lock
//! hand-off per call.) Payload encoding and decoding happen on the caller's task, not on
//! the connection thread.
//!
//! # Durability
//!
//! The database runs in WAL mode. With the default [`Synchronous::Normal`], a committed
//! transaction survives a crash or kill of the process (the WAL is in the OS page cache),
//! but the last transactions before an operating-system crash or power loss may be rolled
//! back; the database is never corrupted. [`Synchronous::Full`] fsyncs the WAL on every
//! commit (group commit amortises it under load) and survives power loss too.
//!
//! # Waiters
//!
//! An in-process [`Notifier`] wakes waiters on every transition, clear and purge made
//! through this process's store handles. Another process writing the same file does not
//! wake them; waiters then see its changes at their deadline (use Redis for several
//! replicas).

use std::marker::PhantomData;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row as SqlRow, ToSql, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;

use super::{
    Body, CreateError, Created, Dedup, Finished, Limits, NewRecord, Notifier, Record, RecordState,
    Scope, Store, StoreError, Subscription, TransitionError, Wake,
};
use crate::capability::NamespaceToken;
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::payload::OobPayload;
use crate::state::CancelReason;
use crate::time::Timestamp;

/// The default retention window for finished records.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(300);

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 2;

/// The most jobs the connection thread runs in one transaction.
const MAX_BATCH: usize = 256;

/// How many records one purge job deletes before letting other jobs run (the `LIMIT` of
/// the purge statement, a literal so the statement is not re-prepared).
const PURGE_CHUNK: i64 = 1_000;

/// Schema migrations: entry `i` moves a database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE oob_pendings (
        id          BLOB PRIMARY KEY NOT NULL,
        namespace   TEXT NOT NULL,
        kind        TEXT NOT NULL,
        alias       TEXT,
        resource    TEXT,
        elicit_id   TEXT,
        data        TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        state       TEXT NOT NULL,
        reason      TEXT,
        finished_at INTEGER
    );
    CREATE INDEX oob_pendings_ns_state ON oob_pendings (namespace, state, kind, expires_at);
    CREATE INDEX oob_pendings_expires ON oob_pendings (expires_at);
    CREATE INDEX oob_pendings_finished ON oob_pendings (finished_at)
        WHERE finished_at IS NOT NULL;
    CREATE TABLE oob_vault (
        namespace TEXT NOT NULL,
        key       TEXT NOT NULL,
        value     TEXT NOT NULL,
        PRIMARY KEY (namespace, key)
    ) WITHOUT ROWID;
",
    "
    ALTER TABLE oob_vault ADD COLUMN written_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE oob_vault ADD COLUMN expires_at INTEGER;
    ALTER TABLE oob_vault ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX oob_vault_expires ON oob_vault (expires_at) WHERE expires_at IS NOT NULL;
",
];

/// The columns [`Row::read`] reads, in order (a macro so statements are `concat!`ed at
/// compile time and the statement cache is keyed without allocating).
macro_rules! cols {
    () => {
        "id, namespace, alias, resource, elicit_id, data, created_at, expires_at, state, \
         reason, finished_at"
    };
}

/// Brings a database to [`SCHEMA_VERSION`], in one immediate transaction. Databases written
/// by a newer version are refused.
///
/// # Errors
/// A failing statement, or a database whose version is newer than this build's.
pub fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(StoreError::backend)?;
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(StoreError::backend)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::backend(SchemaTooNew { found: version }));
    }
    let start = usize::try_from(version).unwrap_or(0);
    for step in MIGRATIONS.iter().skip(start) {
        tx.execute_batch(step).map_err(StoreError::backend)?;
    }
    if version < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(StoreError::backend)?;
    }
    tx.commit().map_err(StoreError::backend)
}

/// The database was written by a newer version of this library.
#[derive(Debug, thiserror::Error)]
#[error("database schema version {found} is newer than this build's ({SCHEMA_VERSION})")]
pub struct SchemaTooNew {
    /// The version found.
    pub found: i64,
}

/// The connection thread is gone (it could not start, or stopped).
#[derive(Debug, thiserror::Error)]
#[error("the sqlite connection thread is not running")]
pub struct WorkerGone;

/// A stored value that does not decode.
#[derive(Debug, thiserror::Error)]
#[error("invalid stored {what}")]
pub struct BadColumn {
    what: &'static str,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl BadColumn {
    fn new(what: &'static str) -> Self {
        Self { what, source: None }
    }

    fn with(what: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            what,
            source: Some(Box::new(e)),
        }
    }
}

/// How hard SQLite works to make a commit survive a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Synchronous {
    /// `synchronous=NORMAL`: commits survive a process crash; the last ones before a power
    /// loss or OS crash may be lost (never corrupting the database). The default.
    #[default]
    Normal,
    /// `synchronous=FULL`: the WAL is fsynced at every commit; commits survive power loss.
    Full,
}

/// Options for [`SqliteStore::open_with`]: `SqliteOptions::default().synchronous(..)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// Durability of commits.
    pub synchronous: Synchronous,
    /// How long to wait for a lock held by another connection (another process on the same
    /// file) before failing.
    pub busy_timeout: Duration,
}

impl SqliteOptions {
    /// Durability of commits (default [`Synchronous::Normal`]).
    #[must_use]
    pub fn synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }

    /// How long to wait for another connection's lock (default 5 s).
    #[must_use]
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Normal,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

type Done = Box<dyn FnOnce(Option<&Arc<rusqlite::Error>>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> Done + Send>;
type Orphan = Arc<dyn Fn(&[PendingId]) + Send + Sync>;

/// A handle on a database's connection thread. Cloning shares the thread; it stops when
/// the last handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct Db {
    tx: mpsc::Sender<Job>,
    /// Finished records to delete at the start of the next batch (zero retention): queued
    /// only after their waiters were told, so no reader finds one missing before its event.
    forget: Arc<Mutex<Vec<PendingId>>>,
}

impl Db {
    /// Opens (or creates) the database and starts its thread. Blocks until the database is
    /// open and migrated.
    pub(crate) fn open(path: Option<&Path>, opts: SqliteOptions) -> Result<Self, StoreError> {
        let path = path.map(Path::to_path_buf);
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), StoreError>>();
        let (tx, rx) = mpsc::channel::<Job>();
        let forget = Arc::new(Mutex::new(Vec::new()));
        let queued = forget.clone();
        std::thread::Builder::new()
            .name("oob-sqlite".into())
            .spawn(move || {
                let conn = match setup(path.as_deref(), opts) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let _ = ready_tx.send(Ok(()));
                drop(ready_tx);
                serve(&conn, &rx, &queued);
            })
            .map_err(StoreError::backend)?;
        ready_rx
            .recv()
            .map_err(|_| StoreError::backend(WorkerGone))??;
        Ok(Self { tx, forget })
    }

    /// Queues finished records for deletion in the next batch.
    pub(crate) fn forget(&self, id: PendingId) {
        self.forget
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(id);
    }

    /// Runs `f` on the connection thread inside the current batch's transaction and returns
    /// its result once the batch committed. `f` records the ids it changed; if the caller
    /// is gone by then, `orphan` is told about them (so waiters still wake).
    pub(crate) async fn call<R, F>(&self, orphan: Option<Orphan>, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection, &mut Vec<PendingId>) -> Result<R, rusqlite::Error> + Send + 'static,
    {
        self.call_then(orphan, f, |_: &R| {}).await
    }

    /// Like [`call`](Self::call), and once the batch committed runs `then` on the result on
    /// the connection thread, before any reply of the batch after this job is sent.
    pub(crate) async fn call_then<R, F, H>(
        &self,
        orphan: Option<Orphan>,
        f: F,
        then: H,
    ) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection, &mut Vec<PendingId>) -> Result<R, rusqlite::Error> + Send + 'static,
        H: FnOnce(&R) + Send + 'static,
    {
        let (reply, rx) = oneshot::channel::<Result<R, StoreError>>();
        let job: Job = Box::new(move |conn| {
            let mut touched = Vec::new();
            let out = f(conn, &mut touched);
            Box::new(move |commit| {
                let out = match (commit, out) {
                    (Some(e), _) => Err(StoreError::Backend(Box::new(e.clone()))),
                    (None, Err(e)) => Err(StoreError::backend(e)),
                    (None, Ok(v)) => {
                        then(&v);
                        Ok(v)
                    }
                };
                if reply.send(out).is_err()
                    && commit.is_none()
                    && !touched.is_empty()
                    && let Some(orphan) = orphan
                {
                    orphan(&touched);
                }
            })
        });
        self.tx
            .send(job)
            .map_err(|_| StoreError::backend(WorkerGone))?;
        rx.await.map_err(|_| StoreError::backend(WorkerGone))?
    }
}

fn setup(path: Option<&Path>, opts: SqliteOptions) -> Result<Connection, StoreError> {
    let mut conn = match path {
        Some(p) => Connection::open(p),
        None => Connection::open_in_memory(),
    }
    .map_err(StoreError::backend)?;
    conn.busy_timeout(opts.busy_timeout)
        .map_err(StoreError::backend)?;
    // `journal_mode` answers with the mode in effect (`memory` for an in-memory database).
    let _mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(StoreError::backend)?;
    let sync = match opts.synchronous {
        Synchronous::Normal => "NORMAL",
        Synchronous::Full => "FULL",
    };
    conn.pragma_update(None, "synchronous", sync)
        .map_err(StoreError::backend)?;
    conn.set_prepared_statement_cache_capacity(64);
    migrate(&mut conn)?;
    Ok(conn)
}

/// The connection thread: runs queued jobs in batches, one transaction each.
fn serve(conn: &Connection, rx: &mpsc::Receiver<Job>, forget: &Mutex<Vec<PendingId>>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    let mut done: Vec<Done> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let began = exec_cached(conn, "BEGIN IMMEDIATE").is_ok();
        // Failures here are left to `purge`, which deletes the same rows by time.
        let queued = std::mem::take(&mut *forget.lock().unwrap_or_else(PoisonError::into_inner));
        for id in &queued {
            let _ = conn
                .prepare_cached("DELETE FROM oob_pendings WHERE id = ?1 AND state <> 'open'")
                .and_then(|mut st| st.execute(params![&id.as_bytes()[..]]));
        }
        if !began {
            // No transaction (e.g. the lock is held elsewhere past the busy timeout): run
            // each job on its own; each issues at most one write, atomic by itself.
            for job in batch.drain(..) {
                job(conn)(None);
            }
            continue;
        }
        done.extend(batch.drain(..).map(|job| job(conn)));
        let commit = exec_cached(conn, "COMMIT").err().map(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            Arc::new(e)
        });
        for d in done.drain(..) {
            d(commit.as_ref());
        }
    }
}

fn exec_cached(conn: &Connection, sql: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute([])
}

fn ms(t: Timestamp) -> i64 {
    i64::try_from(t.as_millis()).unwrap_or(i64::MAX)
}

fn dur_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A row as read from the table, decoded into a [`Record`] on the caller's task.
#[derive(Debug, Clone)]
struct Row {
    id: Vec<u8>,
    namespace: String,
    alias: Option<String>,
    resource: Option<String>,
    elicit_id: Option<String>,
    data: String,
    created_at: i64,
    expires_at: i64,
    state: String,
    reason: Option<String>,
    finished_at: Option<i64>,
}

impl Row {
    /// The row of pending `id` of this kind, if any.
    fn by_id(conn: &Connection, id: &[u8], kind: &str) -> rusqlite::Result<Option<Self>> {
        conn.prepare_cached(concat!(
            "SELECT ",
            cols!(),
            " FROM oob_pendings WHERE id = ?1 AND kind = ?2"
        ))?
        .query_row(params![id, kind], Self::read)
        .optional()
    }

    fn read(r: &SqlRow<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            namespace: r.get(1)?,
            alias: r.get(2)?,
            resource: r.get(3)?,
            elicit_id: r.get(4)?,
            data: r.get(5)?,
            created_at: r.get(6)?,
            expires_at: r.get(7)?,
            state: r.get(8)?,
            reason: r.get(9)?,
            finished_at: r.get(10)?,
        })
    }

    fn decode<T: DeserializeOwned>(self, now: Timestamp) -> Result<Record<T>, StoreError> {
        let bad = |b: BadColumn| StoreError::Decode(Box::new(b));
        let bytes: [u8; 16] = self
            .id
            .as_slice()
            .try_into()
            .map_err(|_| bad(BadColumn::new("id")))?;
        let id = PendingId::from_bytes(bytes).map_err(|e| bad(BadColumn::with("id", e)))?;
        let namespace =
            Namespace::new(&self.namespace).map_err(|e| bad(BadColumn::with("namespace", e)))?;
        let time = |what: &'static str, v: i64| {
            u64::try_from(v)
                .map(Timestamp::from_millis)
                .map_err(|e| bad(BadColumn::with(what, e)))
        };
        let created_at = time("created_at", self.created_at)?;
        let expires_at = time("expires_at", self.expires_at)?;
        let finished_at = || {
            self.finished_at
                .ok_or_else(|| bad(BadColumn::new("finished_at")))
                .and_then(|v| time("finished_at", v))
        };
        let state = match self.state.as_str() {
            "open" if expires_at <= now => RecordState::Expired { at: expires_at },
            "open" => RecordState::Open,
            "expired" => RecordState::Expired { at: expires_at },
            "completed" => RecordState::Completed { at: finished_at()? },
            "cancelled" => RecordState::Cancelled {
                at: finished_at()?,
                reason: match self.reason.as_deref() {
                    Some("cancelled") => CancelReason::Cancelled,
                    Some("declined") => CancelReason::Declined,
                    _ => return Err(bad(BadColumn::new("reason"))),
                },
            },
            _ => return Err(bad(BadColumn::new("state"))),
        };
        let data: T = serde_json::from_str(&self.data)
            .map_err(|e| StoreError::Decode(Box::new(BadColumn::with("payload", e))))?;
        Ok(Record {
            id,
            namespace,
            created_at,
            expires_at,
            state,
            body: Arc::new(Body::new(data, self.alias, self.resource, self.elicit_id)),
        })
    }
}

/// A record ready to be written: the payload already encoded.
#[derive(Debug)]
struct NewRow {
    id: PendingId,
    namespace: String,
    alias: Option<String>,
    resource: Option<String>,
    elicit_id: Option<String>,
    data: String,
    created_at: i64,
    expires_at: i64,
    state: &'static str,
    reason: Option<&'static str>,
    finished_at: Option<i64>,
}

impl NewRow {
    fn encode<T: Serialize>(record: &Record<T>) -> Result<Self, StoreError> {
        let data = serde_json::to_string(record.body.data())
            .map_err(|e| StoreError::Encode(Box::new(e)))?;
        let (state, reason, finished_at) = match record.state {
            RecordState::Open => ("open", None, None),
            RecordState::Expired { .. } => ("expired", None, None),
            RecordState::Completed { at } => ("completed", None, Some(ms(at))),
            RecordState::Cancelled { at, reason } => {
                ("cancelled", Some(reason_str(reason)), Some(ms(at)))
            }
        };
        Ok(Self {
            id: record.id,
            namespace: record.namespace.as_str().to_owned(),
            alias: record.body.alias().map(str::to_owned),
            resource: record.body.resource().map(str::to_owned),
            elicit_id: record.body.elicit_id().map(str::to_owned),
            data,
            created_at: ms(record.created_at),
            expires_at: ms(record.expires_at),
            state,
            reason,
            finished_at,
        })
    }

    /// The row's twelve columns as statement parameters `?1` … `?12`.
    fn values<'a>(&'a self, kind: &'a &'a str) -> [&'a dyn ToSql; 12] {
        [
            self.id.as_bytes(),
            &self.namespace,
            kind,
            &self.alias,
            &self.resource,
            &self.elicit_id,
            &self.data,
            &self.created_at,
            &self.expires_at,
            &self.state,
            &self.reason,
            &self.finished_at,
        ]
    }

    /// Inserts the row if its namespace has fewer than `per_ns` open, unexpired records of
    /// this kind; returns how many rows were inserted (0 or 1). (No bound `LIMIT` in the
    /// count: SQLite re-prepares a statement whose bound `LIMIT` value changes.)
    fn insert_capped(
        &self,
        conn: &Connection,
        kind: &str,
        now: i64,
        per_ns: i64,
    ) -> rusqlite::Result<usize> {
        if conn.is_autocommit() {
            // Outside a transaction (another process holds the lock): the bound and the
            // insert in one statement, atomic by itself.
            return conn
                .prepare_cached(
                    "INSERT INTO oob_pendings (id, namespace, kind, alias, resource, elicit_id, \
                     data, created_at, expires_at, state, reason, finished_at) \
                     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12 \
                     WHERE (SELECT COUNT(*) FROM oob_pendings WHERE namespace = ?2 \
                     AND state = 'open' AND kind = ?3 AND expires_at > ?13) < ?14",
                )?
                .execute(&[&self.values(&kind)[..], &[&now as &dyn ToSql, &per_ns]].concat()[..]);
        }
        // Inside the batch's immediate transaction nothing else writes between the count and
        // the insert. Two statements are cheaper than the combined one, for which SQLite
        // buffers the `SELECT` in a temporary table (it reads the table it inserts into).
        let open: i64 = conn
            .prepare_cached(
                "SELECT COUNT(*) FROM oob_pendings WHERE namespace = ?1 AND state = 'open' \
                 AND kind = ?2 AND expires_at > ?3",
            )?
            .query_row(params![self.namespace, kind, now], |r| r.get(0))?;
        if open >= per_ns {
            return Ok(0);
        }
        conn.prepare_cached(
            "INSERT INTO oob_pendings (id, namespace, kind, alias, resource, elicit_id, data, \
             created_at, expires_at, state, reason, finished_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )?
        .execute(self.values(&kind))
    }
}

fn reason_str(reason: CancelReason) -> &'static str {
    match reason {
        CancelReason::Cancelled => "cancelled",
        CancelReason::Declined => "declined",
    }
}

/// What a create job found.
#[allow(clippy::large_enum_variant)] // moved once, from the thread to the caller
enum CreateOutcome {
    Inserted,
    Joined(Row),
    Declined(Row),
    Duplicate,
    Full(Scope),
}

/// What a transition job found.
#[allow(clippy::large_enum_variant)] // moved once, from the thread to the caller
enum TransitionOutcome {
    Done(Row),
    NotFound,
    Finished(Finished),
    Mismatch,
}

/// A durable [`Store`] in one SQLite file (feature `sqlite`).
///
/// See the [module documentation](self) for the layout, the threading model and the
/// durability trade-off. Cloning the store shares its connection thread and waiters.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use oob::{CallbackBase, Manager, OobPayload, Spec};
/// use oob::provider::FixedNamespace;
/// use oob::store::SqliteStore;
///
/// #[derive(Clone, serde::Serialize, serde::Deserialize, OobPayload)]
/// #[oob(kind = "api_key", route = "/oob/key/{id}")]
/// struct ApiKey { service: String }
///
/// let store = SqliteStore::<ApiKey>::open_in_memory()?.with_retention(Duration::from_secs(60));
/// let manager = Manager::builder()
///     .store(store)
///     .provider(FixedNamespace::new("alice".parse()?))
///     .callback_base(CallbackBase::parse("https://mcp.example.com")?)
///     .build();
/// let open = manager.create(&(), Spec::new(ApiKey { service: "github".into() })).await?;
/// let done = manager.complete(open).await?;
/// assert_eq!(done.data().service, "github");
/// # Ok(()) }
/// ```
pub struct SqliteStore<T> {
    db: Db,
    notifier: Notifier<T>,
    orphan: Orphan,
    retention: Duration,
    _payload: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for SqliteStore<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

impl<T> Clone for SqliteStore<T> {
    fn clone(&self) -> Self {
        Self {
            db: self.db.clone(),
            notifier: self.notifier.clone(),
            orphan: self.orphan.clone(),
            retention: self.retention,
            _payload: PhantomData,
        }
    }
}

impl<T: Send + Sync + 'static> SqliteStore<T> {
    /// Opens (creating if needed) the database file at `path` with the default
    /// [`SqliteOptions`] (WAL, `synchronous=NORMAL`, 5 s busy timeout) and migrates its
    /// schema. Blocks the calling thread while it opens.
    ///
    /// # Errors
    /// The file cannot be opened, or its schema is newer than this build's.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Like [`open`](Self::open), with options (e.g. [`Synchronous::Full`]).
    ///
    /// # Errors
    /// The file cannot be opened, or its schema is newer than this build's.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, StoreError> {
        Ok(Self::from_db(Db::open(Some(path.as_ref()), options)?))
    }

    /// A private in-memory database, gone with the store (for tests).
    ///
    /// # Errors
    /// SQLite could not be initialised.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Ok(Self::from_db(Db::open(None, SqliteOptions::default())?))
    }

    fn from_db(db: Db) -> Self {
        let notifier = Notifier::new();
        let n = notifier.clone();
        Self {
            db,
            notifier,
            orphan: Arc::new(move |ids: &[PendingId]| {
                for id in ids {
                    n.notify(*id);
                }
            }),
            retention: DEFAULT_RETENTION,
            _payload: PhantomData,
        }
    }
}

impl<T> SqliteStore<T> {
    /// The same store with another retention window for finished and expired records.
    /// Zero deletes a record as soon as its waiters were told its outcome (in the
    /// connection thread's next batch; `purge` catches any it missed).
    #[must_use]
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// The retention window.
    #[must_use]
    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// How many ids have waiters subscribed.
    #[must_use]
    pub fn watched(&self) -> usize {
        self.notifier.watched()
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }
}

impl<T> SqliteStore<T>
where
    T: OobPayload + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection, &mut Vec<PendingId>) -> Result<R, rusqlite::Error> + Send + 'static,
    {
        self.db.call(Some(self.orphan.clone()), f).await
    }

    /// Tells the waiters of a finished record (one kept by its transition), then (zero
    /// retention, after a deferred wake-up) queues its row for deletion: in this order, a
    /// reader never finds it missing before its event.
    fn finished(&self, record: &Record<T>) {
        if self.notifier.has_waiters() {
            self.notifier.notify_with(record.id, record.clone());
        }
        if self.retention.is_zero() {
            self.db.forget(record.id);
        }
    }

    fn notify_all(&self, ids: &[PendingId]) {
        if self.notifier.has_waiters() {
            for id in ids {
                self.notifier.notify(*id);
            }
        }
    }

    /// With zero retention and an immediate wake-up, the row is deleted in the transition
    /// and its waiters are told on the connection thread right after the commit, before any
    /// later reader of the batch gets its reply; otherwise the row is updated and the caller
    /// tells the waiters.
    async fn transition(
        &self,
        id: PendingId,
        reason: Option<CancelReason>,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        let delete = self.retention.is_zero() && wake == Wake::Now;
        let kind = T::KIND;
        let expect = expect.map(|n| n.as_str().to_owned());
        let now_ms = ms(now);
        let (state, reason_s) = match reason {
            None => ("completed", None),
            Some(r) => ("cancelled", Some(reason_str(r))),
        };
        let notifier = self.notifier.clone();
        let told = move |out: &TransitionOutcome| {
            if let TransitionOutcome::Done(row) = out
                && delete
                && notifier.is_watched(id)
            {
                match row.clone().decode::<T>(now) {
                    Ok(record) => notifier.notify_with(id, record),
                    Err(_) => notifier.notify(id),
                }
            }
        };
        let outcome = self
            .db
            .call_then(
                Some(self.orphan.clone()),
                move |conn, touched| {
                    // Read, then write guarded by `state = 'open'`: the connection thread runs
                    // one job at a time inside an immediate transaction, so nothing can change
                    // the row in between (and the guard holds even outside a transaction).
                    // Cheaper than `RETURNING`, which buffers its rows in a temporary table.
                    let key = &id.as_bytes()[..];
                    let Some(mut row) = Row::by_id(conn, key, kind)? else {
                        return Ok(TransitionOutcome::NotFound);
                    };
                    if row.state != "open" || row.expires_at <= now_ms {
                        return Ok(TransitionOutcome::Finished(finished_as(&row)));
                    }
                    if expect.as_ref().is_some_and(|ns| *ns != row.namespace) {
                        return Ok(TransitionOutcome::Mismatch);
                    }
                    let changed = if delete {
                        conn.prepare_cached(
                            "DELETE FROM oob_pendings WHERE id = ?1 AND state = 'open' \
                         AND expires_at > ?2",
                        )?
                        .execute(params![key, now_ms])?
                    } else {
                        // With zero retention and a later wake-up, the row goes once the waiters
                        // were told (see `Db::forget`).
                        conn.prepare_cached(
                            "UPDATE oob_pendings SET state = ?3, reason = ?4, finished_at = ?2 \
                         WHERE id = ?1 AND state = 'open' AND expires_at > ?2",
                        )?
                        .execute(params![key, now_ms, state, reason_s])?
                    };
                    if changed == 0 {
                        // Only outside a transaction (another process won in between): say why.
                        return Ok(match Row::by_id(conn, key, kind)? {
                            None => TransitionOutcome::NotFound,
                            Some(r) => TransitionOutcome::Finished(finished_as(&r)),
                        });
                    }
                    touched.push(id);
                    row.state = state.to_owned();
                    row.reason = reason_s.map(str::to_owned);
                    row.finished_at = Some(now_ms);
                    Ok(TransitionOutcome::Done(row))
                },
                told,
            )
            .await?;
        match outcome {
            TransitionOutcome::Done(row) => Ok(row.decode(now)?),
            TransitionOutcome::NotFound => Err(TransitionError::NotFound),
            TransitionOutcome::Finished(how) => Err(TransitionError::Finished(how)),
            TransitionOutcome::Mismatch => Err(TransitionError::NamespaceMismatch),
        }
    }

    /// Deletes records whose retention window has ended, at most `PURGE_CHUNK` per job;
    /// returns how many, and their ids.
    async fn purge_chunk(&self, cutoff: i64) -> Result<(usize, Vec<PendingId>), StoreError> {
        let kind = T::KIND;
        let ids: Vec<Vec<u8>> = self
            .call(move |conn, touched| {
                let mut stmt = conn.prepare_cached(
                    "DELETE FROM oob_pendings WHERE id IN (SELECT id FROM oob_pendings \
                     WHERE kind = ?1 AND ((state IN ('open', 'expired') AND expires_at <= ?2) \
                     OR (state IN ('completed', 'cancelled') AND finished_at <= ?2)) LIMIT 1000) \
                     RETURNING id",
                )?;
                let ids = stmt
                    .query_map(params![kind, cutoff], |r| r.get::<_, Vec<u8>>(0))?
                    .collect::<Result<Vec<_>, _>>()?;
                touched.extend(ids.iter().filter_map(|b| id_of(b)));
                Ok(ids)
            })
            .await?;
        Ok((ids.len(), ids.iter().filter_map(|b| id_of(b)).collect()))
    }
}

/// How a row that is not open (or past its deadline) finished.
fn finished_as(row: &Row) -> Finished {
    match (row.state.as_str(), row.reason.as_deref()) {
        ("completed", _) => Finished::Completed,
        ("cancelled", Some("declined")) => Finished::Declined,
        ("cancelled", _) => Finished::Cancelled,
        _ => Finished::Expired,
    }
}

fn id_of(bytes: &[u8]) -> Option<PendingId> {
    <[u8; 16]>::try_from(bytes)
        .ok()
        .and_then(|b| PendingId::from_bytes(b).ok())
}

fn read_rows(
    stmt: &mut rusqlite::CachedStatement<'_>,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<Row>> {
    stmt.query_map(params, Row::read)?.collect()
}

impl<T> Store<T> for SqliteStore<T>
where
    T: OobPayload + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn name(&self) -> &'static str {
        "sqlite"
    }

    async fn create(
        &self,
        new_record: &NewRecord<T>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> Result<Created<T>, CreateError> {
        let record = new_record.record();
        let new = NewRow::encode(record)?;
        let kind = T::KIND;
        let now_ms = ms(now);
        let per_ns = i64::try_from(limits.per_namespace).unwrap_or(i64::MAX);
        let total = i64::try_from(limits.total).ok();
        let outcome = self
            .call(move |conn, _| {
                if let Dedup::Join { decline_cooldown } = dedup {
                    let open = conn
                        .prepare_cached(concat!(
                            "SELECT ",
                            cols!(),
                            " FROM oob_pendings WHERE namespace = ?1 AND \
                             state = 'open' AND kind = ?2 AND alias IS ?3 AND resource IS ?4 \
                             AND expires_at > ?5 LIMIT 1"
                        ))?
                        .query_row(
                            params![new.namespace, kind, new.alias, new.resource, now_ms],
                            Row::read,
                        )
                        .optional()?;
                    if let Some(row) = open {
                        return Ok(CreateOutcome::Joined(row));
                    }
                    let since = now_ms.saturating_sub(dur_ms(decline_cooldown));
                    let declined = conn
                        .prepare_cached(concat!(
                            "SELECT ",
                            cols!(),
                            " FROM oob_pendings WHERE namespace = ?1 AND \
                             state = 'cancelled' AND kind = ?2 AND alias IS ?3 AND \
                             resource IS ?4 AND reason = 'declined' AND finished_at > ?5 \
                             ORDER BY finished_at DESC LIMIT 1"
                        ))?
                        .query_row(
                            params![new.namespace, kind, new.alias, new.resource, since],
                            Row::read,
                        )
                        .optional()?;
                    if let Some(row) = declined {
                        return Ok(CreateOutcome::Declined(row));
                    }
                }
                if let Some(total) = total {
                    let all: i64 = conn
                        .prepare_cached(
                            "SELECT COUNT(*) FROM (SELECT 1 FROM oob_pendings WHERE \
                             expires_at > ?2 AND state = 'open' AND kind = ?1 LIMIT ?3)",
                        )?
                        .query_row(params![kind, now_ms, total], |r| r.get(0))?;
                    if all >= total {
                        return Ok(CreateOutcome::Full(Scope::Total));
                    }
                }
                // The per-namespace bound and the insert in one statement; a duplicate id
                // fails on the primary key.
                match new.insert_capped(conn, kind, now_ms, per_ns) {
                    Ok(0) => Ok(CreateOutcome::Full(Scope::Namespace)),
                    Ok(_) => Ok(CreateOutcome::Inserted),
                    Err(rusqlite::Error::SqliteFailure(e, _))
                        if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                            || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
                    {
                        Ok(CreateOutcome::Duplicate)
                    }
                    Err(e) => Err(e),
                }
            })
            .await?;
        match outcome {
            CreateOutcome::Inserted => Ok(Created::Inserted),
            CreateOutcome::Joined(row) => Ok(Created::Joined(row.decode(now)?)),
            CreateOutcome::Declined(row) => Ok(Created::Declined(row.decode(now)?)),
            CreateOutcome::Duplicate => Err(CreateError::DuplicateId),
            CreateOutcome::Full(scope) => Err(CreateError::Capacity(scope)),
        }
    }

    async fn get(&self, id: PendingId, now: Timestamp) -> Result<Option<Record<T>>, StoreError> {
        let row = self
            .call(move |conn, _| Row::by_id(conn, &id.as_bytes()[..], T::KIND))
            .await?;
        row.map(|r| r.decode(now)).transpose()
    }

    async fn complete(
        &self,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        let record = self.transition(id, None, expect, now, wake).await?;
        if wake == Wake::Now && !self.retention.is_zero() {
            self.finished(&record);
        }
        Ok(record)
    }

    async fn wake(&self, record: &Record<T>) -> Result<(), StoreError> {
        self.finished(record);
        Ok(())
    }

    async fn cancel(
        &self,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> Result<Record<T>, TransitionError> {
        let record = self
            .transition(id, Some(reason), expect, now, Wake::Now)
            .await?;
        if !self.retention.is_zero() {
            self.finished(&record);
        }
        Ok(record)
    }

    async fn list_namespace(
        &self,
        token: &NamespaceToken<'_>,
        now: Timestamp,
    ) -> Result<Vec<Record<T>>, StoreError> {
        let namespace = token.namespace();
        let ns = namespace.as_str().to_owned();
        let now_ms = ms(now);
        let rows = self
            .call(move |conn, _| {
                read_rows(
                    &mut conn.prepare_cached(concat!(
                        "SELECT ",
                        cols!(),
                        " FROM oob_pendings WHERE namespace = ?1 AND \
                         state = 'open' AND kind = ?2 AND expires_at > ?3"
                    ))?,
                    params![ns, T::KIND, now_ms],
                )
            })
            .await?;
        rows.into_iter().map(|r| r.decode(now)).collect()
    }

    async fn clear_namespace(&self, token: &NamespaceToken<'_>) -> Result<usize, StoreError> {
        let namespace = token.namespace();
        let ns = namespace.as_str().to_owned();
        let ids: Vec<Vec<u8>> = self
            .call(move |conn, touched| {
                let ids = conn
                    .prepare_cached(
                        "DELETE FROM oob_pendings WHERE namespace = ?1 AND kind = ?2 \
                         RETURNING id",
                    )?
                    .query_map(params![ns, T::KIND], |r| r.get::<_, Vec<u8>>(0))?
                    .collect::<Result<Vec<_>, _>>()?;
                touched.extend(ids.iter().filter_map(|b| id_of(b)));
                Ok(ids)
            })
            .await?;
        let parsed: Vec<PendingId> = ids.iter().filter_map(|b| id_of(b)).collect();
        self.notify_all(&parsed);
        Ok(ids.len())
    }

    async fn purge(&self, now: Timestamp) -> Result<usize, StoreError> {
        let now_ms = ms(now);
        let ret = dur_ms(self.retention);
        if ret > now_ms {
            return Ok(0);
        }
        let cutoff = now_ms - ret;
        let mut total = 0;
        loop {
            let (n, ids) = self.purge_chunk(cutoff).await?;
            total += n;
            self.notify_all(&ids);
            if n < usize::try_from(PURGE_CHUNK).unwrap_or(usize::MAX) {
                return Ok(total);
            }
        }
    }

    async fn subscribe(&self, id: PendingId) -> Result<Subscription<T>, StoreError> {
        Ok(self.notifier.subscribe(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct P {
        n: u32,
    }

    impl OobPayload for P {
        const KIND: &'static str = "p";
        const ROUTE: &'static str = "/p/{id}";
    }

    fn temp_path() -> std::path::PathBuf {
        std::env::temp_dir().join(format!("oob-unit-{}.db", PendingId::random()))
    }

    fn remove(path: &Path) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }

    fn record(now: Timestamp) -> Record<P> {
        Record {
            id: PendingId::random(),
            namespace: Namespace::new("a").expect("namespace"),
            created_at: now,
            expires_at: now.saturating_add(Duration::from_secs(60)),
            state: RecordState::Open,
            body: Arc::new(Body::new(P { n: 7 }, None, None, None)),
        }
    }

    async fn exec(store: &SqliteStore<P>, sql: &'static str) {
        store
            .db()
            .call(None, move |conn, _| conn.execute_batch(sql))
            .await
            .expect("raw sql");
    }

    /// The per-namespace bound, the primary key and expiry, both in a batch's transaction
    /// (count, then insert) and outside one (the combined statement).
    #[test]
    fn the_namespace_bound_holds_inside_and_outside_a_transaction() {
        let path = temp_path();
        let conn = setup(Some(&path), SqliteOptions::default()).expect("setup");
        let now = Timestamp::from_millis(1_000_000);
        let later = ms(now) + 61_000;
        for in_tx in [false, true] {
            conn.execute_batch("DELETE FROM oob_pendings")
                .expect("clear");
            if in_tx {
                conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
            }
            assert_eq!(conn.is_autocommit(), !in_tx);
            let rows: Vec<NewRow> = (0..4)
                .map(|_| NewRow::encode(&record(now)).expect("encode"))
                .collect();
            let insert =
                |i: usize, at: i64, bound: i64| rows[i].insert_capped(&conn, "p", at, bound);
            assert_eq!(insert(0, ms(now), 2).expect("first"), 1);
            assert_eq!(insert(1, ms(now), 2).expect("second"), 1);
            assert_eq!(insert(2, ms(now), 2).expect("third"), 0, "in tx: {in_tx}");
            // Another kind does not count against this one.
            assert_eq!(
                rows[2].insert_capped(&conn, "q", ms(now), 1).expect("kind"),
                1
            );
            // Once the first two expired they no longer count.
            assert_eq!(insert(3, later, 2).expect("after expiry"), 1);
            let dup = insert(0, later, 10);
            assert!(
                matches!(&dup, Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY),
                "{dup:?}"
            );
            if in_tx {
                conn.execute_batch("COMMIT").expect("commit");
            }
            let n: i64 = conn
                .query_row("SELECT COUNT(*) FROM oob_pendings", [], |r| r.get(0))
                .expect("count");
            assert_eq!(n, 4);
        }
        drop(conn);
        remove(&path);
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
        let ns = NamespaceToken::new(Namespace::new("a").expect("namespace"));
        assert!(matches!(
            store.list_namespace(&ns, now).await,
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
        let b = NamespaceToken::new(Namespace::new("b").expect("namespace"));
        let err = store.list_namespace(&b, now).await.expect_err("bad id");
        assert!(matches!(err, StoreError::Decode(_)));
        // The source chain is kept.
        assert!(std::error::Error::source(&err).is_some());
        // Purge and clear still work on corrupt rows.
        assert_eq!(store.clear_namespace(&b).await.expect("clear"), 1);
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
        let token = NamespaceToken::new(r.namespace.clone());
        assert_eq!(q.clear_namespace(&token).await.expect("clear"), 0);
        assert!(p.get(r.id, now).await.expect("get").is_some());
        drop((p, q));
        remove(&path);
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
        remove(&path);
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
        remove(&path);
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
}
