//! The connection thread: one per database, running queued jobs in group-committed batches.

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{Connection, params};
use tokio::sync::oneshot;

use super::options::{SqliteOptions, Synchronous};
use super::schema::migrate;
use crate::id::PendingId;
use crate::store::StoreError;

/// The most jobs the connection thread runs in one transaction.
const MAX_BATCH: usize = 256;

/// The connection thread is gone (it could not start, or stopped).
#[derive(Debug, thiserror::Error)]
#[error("the sqlite connection thread is not running")]
pub struct WorkerGone;

pub(super) type Done = Box<dyn FnOnce(Option<&Arc<rusqlite::Error>>) + Send>;
/// A job: run on the connection inside the batch's transaction, or told why there is none
/// (then it does not run); either way it returns what to do once the batch ended.
pub(super) type Job = Box<dyn FnOnce(Result<&Connection, &Arc<rusqlite::Error>>) -> Done + Send>;
pub(super) type Orphan = Arc<dyn Fn(&[PendingId]) + Send + Sync>;

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
            let conn = match conn {
                Ok(conn) => conn,
                Err(e) => {
                    // No transaction: the job does not run and writes nothing.
                    let e = StoreError::Backend(Box::new(Arc::clone(e)));
                    return Box::new(move |_| {
                        let _ = reply.send(Err(e));
                    });
                }
            };
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

pub(super) fn setup(path: Option<&Path>, opts: SqliteOptions) -> Result<Connection, StoreError> {
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
        // Every job runs inside the immediate transaction, never outside one: a create's
        // reads (dedup, counts) and its insert must be atomic against another connection on
        // the file (another process). While that connection holds the write lock, SQLite
        // retries `BEGIN IMMEDIATE` through the busy handler for the busy timeout; past it,
        // each job of the batch fails with the error, having written nothing.
        if let Err(e) = exec_cached(conn, "BEGIN IMMEDIATE") {
            let e = Arc::new(e);
            for job in batch.drain(..) {
                job(Err(&e))(Some(&e));
            }
            continue;
        }
        // Failures here are left to `purge`, which deletes the same rows by time.
        let queued = std::mem::take(&mut *forget.lock().unwrap_or_else(PoisonError::into_inner));
        for id in &queued {
            let _ = conn
                .prepare_cached("DELETE FROM oob_pendings WHERE id = ?1 AND state <> 'open'")
                .and_then(|mut st| st.execute(params![&id.as_bytes()[..]]));
        }
        done.extend(batch.drain(..).map(|job| job(Ok(conn))));
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
