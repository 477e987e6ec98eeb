//! The [`Store`] trait: where pending records live, and the plain [`Record`] it keeps.
//!
//! Stores persist plain records; the typestates live in the [`Manager`](crate::Manager)
//! above them. Every transition is atomic in the store: of any number of concurrent
//! completers of one id, exactly one gets [`Ok`].

use std::borrow::Cow;
use std::error::Error as StdError;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::capability::NamespaceToken;
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::state::CancelReason;
use crate::time::Timestamp;

mod erased;
pub mod lifecycle;
pub mod memory;
mod notify;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "redis")]
pub(crate) mod redis_vault;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use erased::{BoxFuture, BoxStore, DynStore};
pub use lifecycle::DEFAULT_RETENTION;
pub use memory::MemoryStore;
pub use notify::{Notifier, Subscription};
#[cfg(feature = "postgres")]
pub use postgres::PostgresStore;
#[cfg(feature = "redis")]
pub use redis::RedisStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// A pending interaction as a store keeps it: plain data, no typestate.
///
/// The immutable part (payload and labels) is a shared [`Body`], so reading a record back
/// from an in-process store copies no payload. `Debug` prints neither the payload nor the
/// namespace.
///
/// Fields are public to read (and, for a store decoding or transitioning one, to set); a
/// record is built with [`Record::new`], so that a field added later breaks no store.
#[derive(PartialEq, Eq)]
#[non_exhaustive]
pub struct Record<T> {
    /// The id.
    pub id: PendingId,
    /// The namespace it belongs to.
    pub namespace: Namespace,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it stops being open.
    pub expires_at: Timestamp,
    /// Where it is in its lifecycle.
    pub state: RecordState,
    /// The payload and labels.
    pub body: Arc<Body<T>>,
}

impl<T> std::fmt::Debug for Record<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("id", &self.id)
            .field("namespace", &self.namespace)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<T> Record<T> {
    /// A record as a store decoded it.
    #[must_use]
    pub fn new(
        id: PendingId,
        namespace: Namespace,
        created_at: Timestamp,
        expires_at: Timestamp,
        state: RecordState,
        body: Arc<Body<T>>,
    ) -> Self {
        Self {
            id,
            namespace,
            created_at,
            expires_at,
            state,
            body,
        }
    }

    /// The same record in another state (what a store answers a transition with).
    #[must_use]
    pub fn with_state(mut self, state: RecordState) -> Self {
        self.state = state;
        self
    }
}

impl<T> Clone for Record<T> {
    fn clone(&self) -> Self {
        Self {
            id: self.id,
            namespace: self.namespace.clone(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            state: self.state,
            body: self.body.clone(),
        }
    }
}

/// A new open record, as the manager hands it to [`Store::create`]. Only the manager makes
/// these (from a [`Spec`](crate::Spec) and the namespace its provider derived), so nothing
/// outside it can insert a record, or choose the namespace of one.
pub struct NewRecord<T>(Record<T>);

impl<T> NewRecord<T> {
    pub(crate) fn new(record: Record<T>) -> Self {
        Self(record)
    }

    /// The record to insert (open).
    #[must_use]
    pub fn record(&self) -> &Record<T> {
        &self.0
    }

    pub(crate) fn into_record(self) -> Record<T> {
        self.0
    }
}

impl<T> std::fmt::Debug for NewRecord<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("NewRecord").field(&self.0).finish()
    }
}

/// The immutable part of a pending: its payload, alias, resource and elicitation id, in
/// one allocation besides the payload's own (the three labels share one buffer, and a
/// single `&'static str` label is kept as it is, without a copy).
#[derive(PartialEq, Eq)]
pub struct Body<T> {
    data: T,
    labels: Labels,
}

impl<T> std::fmt::Debug for Body<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Payloads may be secrets: never printed.
        f.debug_struct("Body").finish_non_exhaustive()
    }
}

impl<T> Body<T> {
    /// A body. Labels longer than 65,534 bytes are cut at a character boundary (the manager
    /// refuses labels over [`MAX_LABEL_LEN`](crate::spec::MAX_LABEL_LEN) before this).
    #[must_use]
    pub fn new(
        data: T,
        alias: Option<String>,
        resource: Option<String>,
        elicit_id: Option<String>,
    ) -> Self {
        Self::with_labels(
            data,
            [alias, resource, elicit_id].map(|l| l.map(Cow::Owned)),
        )
    }

    /// A body from a spec's labels (alias, resource, elicitation id).
    pub(crate) fn with_labels(data: T, labels: [Option<Cow<'static, str>>; 3]) -> Self {
        Self {
            data,
            labels: Labels::new(labels),
        }
    }

    /// The payload.
    #[must_use]
    pub fn data(&self) -> &T {
        &self.data
    }

    /// The alias, if any.
    #[must_use]
    pub fn alias(&self) -> Option<&str> {
        self.labels.get(0)
    }

    /// The resource, if any.
    #[must_use]
    pub fn resource(&self) -> Option<&str> {
        self.labels.get(1)
    }

    /// The elicitation id, if any.
    #[must_use]
    pub fn elicit_id(&self) -> Option<&str> {
        self.labels.get(2)
    }

    /// The payload, by value: moved out when this is the only reference, cloned otherwise.
    #[must_use]
    pub fn into_data(self: Arc<Self>) -> T
    where
        T: Clone,
    {
        match Arc::try_unwrap(self) {
            Ok(body) => body.data,
            Err(shared) => shared.data.clone(),
        }
    }
}

/// Up to three optional labels in one buffer: a `&'static str` when only one label is given
/// and it is static (no allocation), one owned buffer otherwise. `lens` holds each label's
/// length, [`ABSENT`] for a missing one. (24 bytes: the tag shares the word of `lens`.)
#[derive(Debug)]
enum Labels {
    Static { buf: &'static str, lens: [u16; 3] },
    Owned { buf: Box<str>, lens: [u16; 3] },
}

const ABSENT: u16 = u16::MAX;

/// The longest prefix of `p` of at most 65,534 bytes that ends at a character boundary.
fn clamp(p: &str) -> usize {
    let max = p.len().min(usize::from(ABSENT - 1));
    (0..=max)
        .rev()
        .find(|&i| p.is_char_boundary(i))
        .unwrap_or(0)
}

impl Labels {
    fn new(parts: [Option<Cow<'static, str>>; 3]) -> Self {
        let mut lens = [ABSENT; 3];
        if parts.iter().flatten().count() <= 1 {
            // Keep the one label as it is: a static string, or the caller's own buffer.
            for (i, part) in parts.into_iter().enumerate() {
                let Some(p) = part else { continue };
                let take = clamp(&p);
                lens[i] = u16::try_from(take).unwrap_or(0);
                return match p {
                    Cow::Borrowed(b) => Self::Static {
                        buf: b.get(..take).unwrap_or(""),
                        lens,
                    },
                    Cow::Owned(mut o) => {
                        o.truncate(take);
                        Self::Owned {
                            buf: o.into_boxed_str(),
                            lens,
                        }
                    }
                };
            }
            return Self::Static { buf: "", lens };
        }
        let total: usize = parts.iter().flatten().map(|p| p.len()).sum();
        let mut buf = String::with_capacity(total);
        for (len, part) in lens.iter_mut().zip(&parts) {
            if let Some(p) = part {
                let take = clamp(p);
                buf.push_str(p.get(..take).unwrap_or(""));
                *len = u16::try_from(take).unwrap_or(0);
            }
        }
        Self::Owned {
            buf: buf.into_boxed_str(),
            lens,
        }
    }

    fn parts(&self) -> (&str, &[u16; 3]) {
        match self {
            Self::Static { buf, lens } => (buf, lens),
            Self::Owned { buf, lens } => (buf, lens),
        }
    }

    fn get(&self, which: usize) -> Option<&str> {
        let (buf, lens) = self.parts();
        let start: usize = lens[..which]
            .iter()
            .filter(|l| **l != ABSENT)
            .map(|l| usize::from(*l))
            .sum();
        let l = lens[which];
        (l != ABSENT).then(|| buf.get(start..start + usize::from(l)).unwrap_or(""))
    }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for Labels {}

/// Where a [`Record`] is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordState {
    /// Open, and not past its deadline.
    Open,
    /// Completed at this time.
    Completed {
        /// When.
        at: Timestamp,
    },
    /// Cancelled or declined at this time.
    Cancelled {
        /// When.
        at: Timestamp,
        /// By whom.
        reason: CancelReason,
    },
    /// Open until its deadline passed. Stores report an open record whose deadline has
    /// passed in this state on every read.
    Expired {
        /// The deadline.
        at: Timestamp,
    },
}

impl RecordState {
    /// Whether the record is open.
    #[must_use]
    pub fn is_open(&self) -> bool {
        matches!(self, Self::Open)
    }

    /// How a finished record finished, or `None` when it is open.
    #[must_use]
    pub fn finished(&self) -> Option<Finished> {
        match self {
            Self::Open => None,
            Self::Completed { .. } => Some(Finished::Completed),
            Self::Cancelled {
                reason: CancelReason::Cancelled,
                ..
            } => Some(Finished::Cancelled),
            Self::Cancelled {
                reason: CancelReason::Declined,
                ..
            } => Some(Finished::Declined),
            Self::Expired { .. } => Some(Finished::Expired),
        }
    }
}

impl<T> Record<T> {
    /// The record's state as of `now`: an open record past its deadline reads as expired.
    #[must_use]
    pub fn state_at(&self, now: Timestamp) -> RecordState {
        match self.state {
            RecordState::Open if self.expires_at <= now => RecordState::Expired {
                at: self.expires_at,
            },
            s => s,
        }
    }

    /// When a store may forget this record, given its retention window: the end of the
    /// window that starts when it finished (or expired).
    #[must_use]
    pub fn purge_at(&self, retention: Duration) -> Timestamp {
        lifecycle::purge_at(self.state, self.expires_at, retention)
    }
}

/// How a pending finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Finished {
    /// Completed.
    Completed,
    /// Cancelled by the service.
    Cancelled,
    /// Declined by the user.
    Declined,
    /// Reached its deadline while open.
    Expired,
}

impl std::fmt::Display for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Declined => "declined",
            Self::Expired => "expired",
        })
    }
}

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
    /// The record belongs to another namespace than the expected one; it is left open.
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

/// What [`Store::create`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Created<T> {
    /// The record was inserted.
    Inserted,
    /// An open pending with the same key exists; nothing was inserted.
    Joined(Record<T>),
    /// A pending with the same key was declined within the cooldown; nothing was inserted.
    Declined(Record<T>),
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
/// [`NamespaceToken`]. What a store returns are plain [`Record`]s, and nothing built from a
/// record yields a capability. The manager checks that the record a transition returns is
/// the one it asked for (its id, and the namespace of the pending it consumed), so a buggy
/// custom store fails with [`Error::StoreContract`](crate::Error::StoreContract) instead of
/// handing a capability for another namespace to a persist step.
///
/// All methods take `now` from the manager's [`Clock`](crate::time::Clock), so expiry is
/// decided the same way by every store. Implementations must:
/// - report an open record past its deadline as [`RecordState::Expired`] on every read, never
///   list it, and refuse to transition it;
/// - make [`create`](Store::create), [`complete`](Store::complete) and
///   [`cancel`](Store::cancel) atomic;
/// - keep finished and expired records readable for their retention window, hide them from
///   every read once it ended, and forget them in [`purge`](Store::purge); with zero
///   retention a transition's record is gone when the call returns (after
///   [`wake`](Store::wake) for [`Wake::Later`]), an expired one at its deadline;
/// - decide dedup, cooldowns, capacity (namespace bound first) and visibility by the
///   [`lifecycle`] rules, under the same atomicity as the write;
/// - wake [`subscribe`](Store::subscribe)rs of an id on every transition, clear and purge of
///   that id (on every replica, for a shared store).
/// - never let a reader that subscribed to an id find its record missing before the
///   transition's event (carrying the record) is there: a store that forgets finished
///   records at once (zero retention) notifies first and forgets after.
pub trait Store<T>: Send + Sync + 'static {
    /// A short, fixed name for the backend (`"memory"`, `"sqlite"`, `"redis"`): the `store`
    /// label of the manager's store metrics and spans. Never derived from data.
    fn name(&self) -> &'static str {
        "custom"
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
    /// record. With [`Wake::Later`] the record's waiters are not woken until
    /// [`wake`](Self::wake) is called with it (the manager persists the result in between).
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
    /// cancelled record.
    fn cancel(
        &self,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> impl Future<Output = Result<Record<T>, TransitionError>> + Send;

    /// The open, unexpired records of the token's namespace.
    fn list_namespace(
        &self,
        namespace: &NamespaceToken<'_>,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<Record<T>>, StoreError>> + Send;

    /// Removes every record of the token's namespace, open or finished; returns how many.
    fn clear_namespace(
        &self,
        namespace: &NamespaceToken<'_>,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(body: &Body<()>) -> [Option<&str>; 3] {
        [body.alias(), body.resource(), body.elicit_id()]
    }

    #[test]
    fn every_combination_of_labels_reads_back() {
        let texts: [&'static str; 3] = ["gh", "ålias 🦀", ""];
        for mask in 0..8u8 {
            for owned in [false, true] {
                let given: [Option<&'static str>; 3] =
                    std::array::from_fn(|i| (mask & (1 << i) != 0).then_some(texts[i]));
                let body = Body::with_labels(
                    (),
                    given.map(|l| {
                        l.map(|s| {
                            if owned {
                                Cow::Owned(s.to_owned())
                            } else {
                                Cow::Borrowed(s)
                            }
                        })
                    }),
                );
                assert_eq!(labels(&body), given, "mask {mask}, owned {owned}");
                // A body is equal to one built from `String`s, however it keeps its labels.
                let from_strings = Body::new((), given[0].map(str::to_owned), None, None);
                let only_alias = given[1].is_none() && given[2].is_none();
                assert_eq!(body == from_strings, only_alias, "mask {mask}");
            }
        }
    }

    #[test]
    fn a_single_static_label_is_not_copied_and_long_labels_are_cut_at_a_boundary() {
        static RESOURCE: &str = "example.com";
        let body = Body::with_labels((), [None, Some(Cow::Borrowed(RESOURCE)), None]);
        assert!(std::ptr::eq(body.resource().unwrap_or(""), RESOURCE));
        assert!(matches!(body.labels, Labels::Static { .. }));
        assert_eq!(std::mem::size_of::<Labels>(), 24);

        // 'é' is two bytes; 32,767 of them straddle the 65,534-byte cut.
        let long = "é".repeat(40_000);
        for part in [
            Cow::Owned(long.clone()),
            Cow::Borrowed(long.clone().leak() as &str),
        ] {
            let body = Body::with_labels((), [Some(part), Some(Cow::Borrowed("r")), None]);
            assert_eq!(body.alias().map(str::len), Some(65_534));
            assert_eq!(body.resource(), Some("r"));
            let single = Body::new((), Some(long.clone()), None, None);
            assert_eq!(single.alias().map(str::len), Some(65_534));
        }
    }
}
