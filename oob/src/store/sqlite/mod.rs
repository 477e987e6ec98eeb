//! [`SqliteStore`]: the embedded, durable store (feature `sqlite`).
//!
//! # Layout
//!
//! One table, `oob_pendings`, keyed by the 16-byte id. Each row holds the payload as JSON
//! (so `T` must be `Serialize + DeserializeOwned`), its labels (alias, resource, elicitation
//! id), the payload kind ([`OobPayload::KIND`](crate::OobPayload::KIND), so several
//! payload types can share one file), the namespace, the times in milliseconds since the
//! Unix epoch, the state (`open`, `completed`, `cancelled`, `expired`) with the cancel
//! reason and when it finished.
//! Indexes: the primary key on id (rows themselves are kept in insertion order, so only
//! the small id index takes random writes), `(namespace, state, kind, expires_at)` (the
//! namespace count's expiry and namespace listing read it alone), `(kind, expires_at)` of
//! the open rows only (the total count's expiry, purge of open rows), `(kind, state,
//! finished_at)` of the finished rows (purge of finished rows), and `(namespace, kind, alias, resource, expires_at)` of the
//! open rows only (the dedup key's lookup by `create_or_join`).
//! A table `oob_open` counts the open records of each namespace and kind, and, under the
//! empty namespace, of each kind in the file, kept by triggers, so a create reads one row
//! per bound instead of counting (see `jobs`).
//! The schema is versioned with `PRAGMA user_version` ([`SCHEMA_VERSION`]) and migrated on
//! open.
//!
//! # Threading
//!
//! SQLite calls block, so none of them runs on the async executor. Each database is served
//! by one dedicated thread that owns its connection. Callers send it jobs over a channel and
//! await a oneshot reply. The thread drains whatever jobs are queued (up to 256) and runs
//! them in a single transaction, replying only after the commit (group commit). A batch
//! with a writing job runs in `BEGIN IMMEDIATE` … `COMMIT`, and no writing job runs outside
//! that transaction: while another connection to the file (another process) holds the
//! write lock, SQLite retries the `BEGIN` for the busy timeout
//! ([`SqliteOptions::busy_timeout()`]), and past it every writing job of the batch fails
//! with SQLite's busy error, having written nothing, while its reads (`get`,
//! `list_namespace`, vault reads) run in a deferred transaction, which in WAL mode needs no
//! write lock. A batch of reads only runs in a deferred transaction and never waits for the
//! lock.
//! So a create's reads (dedup, the two counts) and its insert are atomic against every
//! writer. A failing job leaves no partial write: every writing job issues one writing
//! statement (with the triggers it fires, undone as a whole by SQLite when it fails),
//! except a create that finds a count at its bound with a deadline passed, which closes the
//! expired rows before it inserts, under a savepoint rolled back if the create fails. When
//! SQLite rolls the whole transaction back by itself (it may on `SQLITE_FULL`, `IOERR`,
//! `NOMEM` or `BUSY`), the writes of the batch's earlier jobs are gone: they, the failing
//! job and every later job (which does not run) get the error. If the commit fails, every
//! job of the batch gets the error. A duplicate id fails on the primary key. A transition
//! is one `UPDATE … WHERE id = ? AND state = 'open' AND expires_at > ?` guarded by a read of
//! the row in the same job, and no statement binds a `LIMIT` (SQLite would re-prepare it on
//! every call).
//! With one task this costs one thread hop per call;
//! under concurrency it turns N commits into one, which is what makes create + complete
//! pairs fast. (A `spawn_blocking` + mutex design pays the same hop plus a commit and lock
//! hand-off per call.) Payload encoding happens on the caller's task, and so does decoding
//! for reads; a transition decodes the payload on the connection thread before it writes
//! (so a version that cannot read it leaves the pending open). A job that panics there
//! (a payload's `Deserialize`) fails its batch, which is rolled back, and the thread goes
//! on; a create or read whose caller went away before it ran is skipped. At most 4 096 jobs
//! are queued or running at once; a caller past that waits before its job is queued.
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
//! wake them; waiters then see its changes at their next re-read, at least every half
//! retention (see [`Store::retention`](crate::store::Store::retention)), or at their
//! deadline (use Redis or Postgres for several replicas). With zero retention a record
//! another process finished is gone by then: such a waiter answers
//! [`Outcome::Removed`](crate::Outcome::Removed), not the outcome.

/// The columns [`Row::read`] reads, in order (a macro so statements are `concat!`ed at
/// compile time and the statement cache is keyed without allocating).
macro_rules! cols {
    () => {
        "id, namespace, alias, resource, elicit_id, data, created_at, expires_at, state, \
         reason, finished_at"
    };
}

mod batch;
mod jobs;
mod options;
mod row;
mod schema;
mod store;
pub(crate) mod vault;
mod worker;

use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::{Notifier, StoreError};
use crate::id::PendingId;

pub use super::lifecycle::DEFAULT_RETENTION;
pub use options::{SqliteOptions, Synchronous};
pub use row::BadColumn;
pub use schema::{SCHEMA_VERSION, SchemaTooNew};
pub(crate) use worker::Db;
use worker::Orphan;
pub use worker::WorkerGone;

/// A durable [`Store`](super::Store) in one SQLite file (feature `sqlite`).
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
    /// Zero deletes a record as soon as its waiters were told its outcome: in its
    /// transition, or, completed with a later wake-up, in [`wake`](super::Store::wake) (a purge
    /// [`WAKE_GRACE`](super::lifecycle::WAKE_GRACE) after it finished deletes one whose
    /// wake-up never came).
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

#[cfg(test)]
mod batch_tests;
#[cfg(test)]
mod count_tests;
#[cfg(test)]
mod tests;
