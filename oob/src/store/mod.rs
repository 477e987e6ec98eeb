//! The [`Store`] trait: where pending records live, and the plain [`Record`] it keeps.
//!
//! Stores persist plain records; the typestates live in the [`Manager`](crate::Manager)
//! above them. Every transition is atomic in the store: of any number of concurrent
//! completers of one id, exactly one gets [`Ok`].

use std::error::Error as StdError;
use std::future::Future;
use std::time::Duration;

use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::state::CancelReason;
use crate::time::Timestamp;

mod body;
#[cfg(any(feature = "redis", feature = "postgres"))]
mod detached;
mod erased;
pub mod lifecycle;
pub mod memory;
mod notify;
#[cfg(feature = "postgres")]
pub mod postgres;
mod record;
#[cfg(feature = "redis")]
pub mod redis;
mod scope;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use body::Body;
pub use erased::{BoxFuture, BoxStore, DynStore};
pub use lifecycle::DEFAULT_RETENTION;
pub use memory::MemoryStore;
pub use notify::{Notifier, Subscription};
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
pub use record::{Finished, NewRecord, Record, RecordState};
#[cfg(feature = "redis")]
pub use redis::{RedisStore, RedisTarget};
pub use scope::NamespaceScope;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// A store failure: the backend could not be reached or answered with an error. The source
/// chain is kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend failed.
    #[error("store backend error")]
    Backend(#[source] Box<dyn StdError + Send + Sync + 'static>),
    /// A stored record could not be decoded.
    #[error("stored record could not be decoded")]
    Decode(#[source] Box<dyn StdError + Send + Sync + 'static>),
    /// A record could not be encoded for storage.
    #[error("record could not be encoded")]
    Encode(#[source] Box<dyn StdError + Send + Sync + 'static>),
}

impl StoreError {
    /// Wraps any backend error.
    pub fn backend(e: impl StdError + Send + Sync + 'static) -> Self {
        Self::Backend(Box::new(e))
    }
}

/// Why a transition (complete, cancel) did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransitionError {
    /// No record with this id (never created, cleared or purged).
    #[error("no pending with this id")]
    NotFound,
    /// The record exists but is not open any more.
    #[error("the pending is already {0}")]
    Finished(Finished),
    /// The record belongs to another namespace than the expected one (whatever its state:
    /// see [`lifecycle::refusal`]); an open one is left open.
    #[error("the pending belongs to another namespace")]
    NamespaceMismatch,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Bounds on open pendings, enforced atomically by [`Store::create`]. Built with
/// [`Limits::new`] or [`Limits::default`] (1,000 per namespace, no total bound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The most open pendings one namespace may have.
    pub per_namespace: usize,
    /// The most open pendings the store may hold.
    pub total: usize,
}

impl Limits {
    /// At most `per_namespace` open pendings per namespace and `total` in the store.
    #[must_use]
    pub fn new(per_namespace: usize, total: usize) -> Self {
        Self {
            per_namespace,
            total,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_namespace: 1_000,
            total: usize::MAX,
        }
    }
}

/// How [`Store::create`] treats an existing pending with the same dedup key (namespace,
/// alias, resource; the kind is the store's payload type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dedup {
    /// Always insert.
    Never,
    /// Join an open, unexpired pending with the same key instead of inserting; and during
    /// `decline_cooldown` after a decline with the same key, return the decline.
    Join {
        /// How long a decline keeps answering for its key (bounded by the retention window).
        decline_cooldown: Duration,
    },
}

/// What [`Store::create`] did. `Debug` needs no `T: Debug` (and prints no payload).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Created<T> {
    /// The record was inserted.
    Inserted,
    /// An open pending with the same key exists; nothing was inserted.
    Joined(Record<T>),
    /// A pending with the same key was declined within the cooldown; nothing was inserted.
    Declined(Record<T>),
}

impl<T> std::fmt::Debug for Created<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Inserted => f.write_str("Inserted"),
            Self::Joined(r) => f.debug_tuple("Joined").field(r).finish(),
            Self::Declined(r) => f.debug_tuple("Declined").field(r).finish(),
        }
    }
}

/// Which bound a create exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scope {
    /// The per-namespace bound.
    Namespace,
    /// The bound on the whole store.
    Total,
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Namespace => "namespace",
            Self::Total => "store",
        })
    }
}

/// Why [`Store::create`] inserted nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CreateError {
    /// A capacity bound would be exceeded.
    #[error("too many open pendings in this {0}")]
    Capacity(Scope),
    /// A record with this id already exists.
    #[error("a pending with this id already exists")]
    DuplicateId,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// When a completion wakes the waiters of its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// With the transition.
    Now,
    /// When [`Store::wake`] is called: after the completer persisted what it obtained, so a
    /// woken waiter finds it.
    Later,
}

/// Where pending records live: the backend SPI under a [`Manager`](crate::Manager).
///
/// The SPI cannot be used to forge or select what the caller does not own: there is no raw
/// `put`; [`create`](Store::create) takes a [`NewRecord`] that only the manager makes (with
/// the namespace its provider derived); the namespace-scoped operations take a
/// [`NamespaceScope`], which only a verified caller's token or the manager's operator path
/// makes, and which is not a capability (a store cannot open a vault with it). What a store
/// returns are plain [`Record`]s, and nothing built from a record yields a capability. The
/// manager checks that the record a transition returns is
/// the one it asked for (its id, and the namespace of the pending it consumed), so a buggy
/// custom store fails with [`Error::StoreContract`](crate::Error::StoreContract) instead of
/// handing a capability for another namespace to a persist step.
///
/// Every method whose answer depends on time takes `now` from the manager's
/// [`Clock`](crate::time::Clock), so expiry is decided the same way by every store.
/// Implementations must:
/// - report an open record past its deadline as [`RecordState::Expired`] on every read, never
///   list it, and refuse to transition it;
/// - make [`create`](Store::create), [`complete`](Store::complete) and
///   [`cancel`](Store::cancel) atomic;
/// - keep finished and expired records readable for their retention window, hide them from
///   every read once it ended, and forget them in [`purge`](Store::purge); with zero
///   retention a transition's record is gone when the call returns (after
///   [`wake`](Store::wake) for [`Wake::Later`]), an expired one at its deadline (a
///   deletion that fails after the transition, the store unreachable for it, leaves the
///   record readable until [`WAKE_GRACE`](lifecycle::WAKE_GRACE) after it finished, and
///   [`lifecycle::visible`] hides it from then on);
/// - decide dedup, cooldowns, capacity (namespace bound first) and visibility by the
///   [`lifecycle`] rules, under the same atomicity as the write;
/// - wake [`subscribe`](Store::subscribe)rs of an id on every transition, clear and purge of
///   that id (on every replica, for a shared store).
/// - never let a reader that subscribed to an id find its record missing before the
///   transition's event (carrying the record) is there: a store that forgets finished
///   records at once (zero retention) notifies first and forgets after.
pub trait Store<T>: Send + Sync + 'static {
    /// A short, fixed name for the backend (`"memory"`, `"sqlite"`, `"postgres"`, `"redis"`;
    /// a custom store's default is `"custom"`): the `store`
    /// label of the manager's store metrics and spans. Never derived from data.
    fn name(&self) -> &'static str {
        "custom"
    }

    /// How long a finished record stays readable after it finished (its retention window;
    /// see [`lifecycle::visible`]). The manager's waiters re-read a pending at least every
    /// half of it (every [`WAKE_GRACE`](lifecycle::WAKE_GRACE) half with zero retention), so
    /// an outcome whose event did not reach them (another process on the same SQLite file, a
    /// store without events, events lost in a reconnect) is still read before the record is
    /// forgotten, never guessed. With zero retention there is no window to read it in: such
    /// a waiter finds the record gone and answers
    /// [`Outcome::Removed`](crate::Outcome::Removed).
    fn retention(&self) -> Duration;

    /// Whether a transition checks that the record's payload decodes as `T` before it
    /// writes, so that a version of `T` that cannot read it finishes nothing (`true` for
    /// the memory store, which keeps values, and SQLite, which decodes inside its
    /// transaction). When `false` (the default), the manager reads the record first for a
    /// transition by id alone (`complete_id`, `complete_in`, `cancel_id`), whose payload it
    /// has not read, and answers [`StoreError::Decode`] without a transition; a pending it
    /// read needs no check.
    fn decodes_before_writing(&self) -> bool {
        false
    }

    /// Whether this store decides why it refuses a transition by [`lifecycle::refusal`]:
    /// a record of another namespace than the expected one is a mismatch whatever its
    /// state (`true` for every built-in store). When `false` (the default), the manager
    /// reads the record once before it passes on a refusal of a transition that expects a
    /// namespace (`complete_in`, `cancel_id` with a namespace), so that a store that tells
    /// how a record ended first does not tell another namespace.
    fn follows_refusal_order(&self) -> bool {
        false
    }

    /// Inserts a copy of a new open record, atomically checking `limits` and applying
    /// `dedup`. Only the manager makes a [`NewRecord`], so nothing else inserts records.
    fn create(
        &self,
        new: &NewRecord<T>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> impl Future<Output = Result<Created<T>, CreateError>> + Send;

    /// The record, in its state as of `now`, or `None` when unknown or purged.
    fn get(
        &self,
        id: PendingId,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<Record<T>>, StoreError>> + Send;

    /// Completes an open record, if it is in `expect` (when given). Returns the completed
    /// record; a refusal is decided by [`lifecycle::refusal`] (another namespace's record is
    /// a mismatch whatever its state). With [`Wake::Later`] the record's waiters are not
    /// woken until [`wake`](Self::wake) is called with it (the manager persists the result
    /// in between).
    fn complete(
        &self,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> impl Future<Output = Result<Record<T>, TransitionError>> + Send;

    /// Wakes the waiters of a record that was completed with [`Wake::Later`].
    fn wake(&self, record: &Record<T>) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Cancels or declines an open record, if it is in `expect` (when given). Returns the
    /// cancelled record; a refusal is decided by [`lifecycle::refusal`].
    fn cancel(
        &self,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> impl Future<Output = Result<Record<T>, TransitionError>> + Send;

    /// The open, unexpired records of the scope's namespace, in any order.
    fn list_namespace(
        &self,
        namespace: NamespaceScope<'_>,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<Record<T>>, StoreError>> + Send;

    /// Removes every record of the scope's namespace, open or finished; returns how many.
    fn clear_namespace(
        &self,
        namespace: NamespaceScope<'_>,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Forgets every record whose retention window has ended; returns how many.
    fn purge(&self, now: Timestamp) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// A subscription that fires when the record `id` changes (a transition, clear or purge).
    /// Subscribe before reading the state, so no change is missed in between.
    fn subscribe(
        &self,
        id: PendingId,
    ) -> impl Future<Output = Result<Subscription<T>, StoreError>> + Send;
}
