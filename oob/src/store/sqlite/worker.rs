//! The connection thread: one per database, running queued jobs in group-committed batches.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::batch::serve;
use super::options::{SqliteOptions, Synchronous};
use super::schema::migrate;
use crate::id::PendingId;
use crate::store::StoreError;

/// The connection thread is gone (it could not start, or stopped).
#[derive(Debug, thiserror::Error)]
#[error("the sqlite connection thread is not running")]
pub struct WorkerGone;

pub(super) type Done = Box<dyn FnOnce(Option<&Arc<rusqlite::Error>>) + Send>;
/// A job's body: given the connection inside the batch's transaction, or the error that
/// left none.
pub(super) type Run = Box<dyn FnOnce(Result<&Connection, &Arc<rusqlite::Error>>) -> Ran + Send>;

/// A job queued for the connection thread.
pub(super) struct Job {
    /// Whether the job may write: a write runs only inside the batch's immediate
    /// transaction; a read may run without the write lock.
    pub(super) writes: bool,
    /// Runs on the connection inside the batch's transaction, or is told why there is none
    /// (then it does not run).
    pub(super) run: Run,
}

/// What a job returns to the connection thread.
pub(super) struct Ran {
    /// What to do once the batch ended (told the error that ended it, if any).
    pub(super) done: Done,
    /// The error the job failed with, if it ran and failed.
    pub(super) failed: Option<Arc<rusqlite::Error>>,
}

pub(super) type Orphan = Arc<dyn Fn(&[PendingId]) + Send + Sync>;

/// A handle on a database's connection thread. Cloning shares the thread; it stops when
/// the last handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct Db {
    tx: mpsc::Sender<Job>,
    /// One permit per job queued or running ([`QUEUE_BOUND`]): a caller waits for one
    /// before its job is queued, so a stalled thread (another process holding the write
    /// lock, a slow disk) makes callers wait instead of the queue growing without bound.
    permits: Arc<tokio::sync::Semaphore>,
}

impl Db {
    /// Opens (or creates) the database and starts its thread. Blocks until the database is
    /// open and migrated.
    pub(crate) fn open(path: Option<&Path>, opts: SqliteOptions) -> Result<Self, StoreError> {
        let path = path.map(Path::to_path_buf);
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), StoreError>>();
        let (tx, rx) = mpsc::channel::<Job>();
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
                serve(&conn, &rx);
            })
            .map_err(StoreError::backend)?;
        ready_rx
            .recv()
            .map_err(|_| StoreError::backend(WorkerGone))??;
        Ok(Self {
            tx,
            permits: Arc::new(tokio::sync::Semaphore::new(QUEUE_BOUND)),
        })
    }

    /// Runs the writing job `f` on the connection thread inside the current batch's
    /// immediate transaction and returns its result once the batch committed. `f` issues
    /// one writing statement (SQLite undoes a failing statement), or makes its writes atomic
    /// itself (a savepoint), so that a failing job leaves no write behind. `f` records the
    /// ids it changed; if the caller is gone by then, `orphan` is told about them (so
    /// waiters still wake).
    pub(crate) async fn call<R, F>(&self, orphan: Option<Orphan>, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection, &mut Vec<PendingId>) -> Result<R, rusqlite::Error> + Send + 'static,
    {
        self.call_then(orphan, f, |_: &R| {}).await
    }

    /// Like [`call`](Self::call) for a job that makes something new only its caller learns
    /// of (a create): skipped when the caller went away before it ran, so no pending is
    /// inserted that nobody got the id of. (A transition runs anyway: its outcome reaches
    /// the waiters.)
    pub(crate) async fn call_unless_gone<R, F>(
        &self,
        orphan: Option<Orphan>,
        f: F,
    ) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection, &mut Vec<PendingId>) -> Result<R, rusqlite::Error> + Send + 'static,
    {
        self.submit(Submit::WriteUnlessGone, orphan, f, |_: &R| {})
            .await
    }

    /// Runs the reading job `f` (it must not write) on the connection thread: inside the
    /// batch's transaction, or, while another connection holds the write lock, in a
    /// deferred (read) transaction of its own, which needs no write lock in WAL mode.
    pub(crate) async fn read<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, rusqlite::Error> + Send + 'static,
    {
        self.submit(Submit::Read, None, move |conn, _| f(conn), |_: &R| {})
            .await
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
        self.submit(Submit::Write, orphan, f, then).await
    }

    async fn submit<R, F, H>(
        &self,
        how: Submit,
        orphan: Option<Orphan>,
        f: F,
        then: H,
    ) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection, &mut Vec<PendingId>) -> Result<R, rusqlite::Error> + Send + 'static,
        H: FnOnce(&R) + Send + 'static,
    {
        // A caller dropped while it waits here leaves nothing queued.
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::backend(WorkerGone))?;
        let (reply, rx) = oneshot::channel::<Result<R, StoreError>>();
        let writes = how != Submit::Read;
        let run: Run = Box::new(move |conn| {
            if how != Submit::Write && reply.is_closed() {
                // The caller went away before its job ran (a request dropped while the
                // thread was busy): a read nobody awaits, or a create whose id nobody would
                // ever be handed, is not run.
                return Ran {
                    done: Box::new(move |_| drop(permit)),
                    failed: None,
                };
            }
            let conn = match conn {
                Ok(conn) => conn,
                Err(e) => {
                    // No transaction: the job does not run and writes nothing.
                    let e = StoreError::Backend(Box::new(Arc::clone(e)));
                    let done: Done = Box::new(move |_| {
                        let _ = reply.send(Err(e));
                        drop(permit);
                    });
                    return Ran { done, failed: None };
                }
            };
            let mut touched = Vec::new();
            let out = match std::panic::catch_unwind(AssertUnwindSafe(|| f(conn, &mut touched))) {
                Ok(out) => out.map_err(Arc::new),
                Err(_) => {
                    // A panic in the job (a payload's `Deserialize` run to check a
                    // transition, say): its writes may be half done, so the batch's
                    // transaction is rolled back (every job in it fails with this), and
                    // the thread goes on serving the next batch.
                    let _ = conn.execute_batch("ROLLBACK");
                    Err(Arc::new(panicked()))
                }
            };
            let failed = out.as_ref().err().cloned();
            let done: Done = Box::new(move |end| {
                let out = match (end, out) {
                    (Some(e), _) => Err(StoreError::Backend(Box::new(e.clone()))),
                    (None, Err(e)) => Err(Arc::try_unwrap(e)
                        .map_or_else(|e| StoreError::Backend(Box::new(e)), StoreError::backend)),
                    (None, Ok(v)) => {
                        then(&v);
                        Ok(v)
                    }
                };
                if reply.send(out).is_err()
                    && end.is_none()
                    && !touched.is_empty()
                    && let Some(orphan) = orphan
                {
                    orphan(&touched);
                }
                drop(permit);
            });
            Ran { done, failed }
        });
        self.tx
            .send(Job { writes, run })
            .map_err(|_| StoreError::backend(WorkerGone))?;
        rx.await.map_err(|_| StoreError::backend(WorkerGone))?
    }
}

/// Creates the database file, if it does not exist, readable and writable by its owner
/// only (it holds payloads and vault values; SQLite gives its `-wal` and `-shm` files the
/// database file's mode). An existing file keeps its mode; a failure here is left to
/// SQLite's open, which reports it.
fn private_file(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// The most jobs queued or running on one database's connection thread at once (a caller
/// past it waits for a job to finish before its own is queued).
pub(super) const QUEUE_BOUND: usize = 4_096;

/// What a submitted job does, and whether it runs when its caller went away first.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Submit {
    /// Reads only; skipped when its caller is gone.
    Read,
    /// Writes; runs whatever became of its caller (a transition's waiters need it).
    Write,
    /// Writes something only its caller learns of; skipped when its caller is gone.
    WriteUnlessGone,
}

/// A job panicked on the connection thread; its batch was rolled back.
fn panicked() -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
        Some("a job panicked on the connection thread; its batch was rolled back".to_owned()),
    )
}

/// The longest busy timeout SQLite takes (`i32::MAX` ms, about 24.8 days); a longer one is
/// this, where rusqlite would panic.
const MAX_BUSY_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);

pub(super) fn setup(path: Option<&Path>, opts: SqliteOptions) -> Result<Connection, StoreError> {
    let mut conn = match path {
        Some(p) => {
            private_file(p);
            Connection::open(p)
        }
        None => Connection::open_in_memory(),
    }
    .map_err(StoreError::backend)?;
    conn.busy_timeout(opts.busy_timeout.min(MAX_BUSY_TIMEOUT))
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
