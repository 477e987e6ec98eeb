//! [`Record`]: a pending as a store keeps it, and its [`RecordState`].

use std::sync::Arc;
use std::time::Duration;

use super::{Body, lifecycle};
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::state::CancelReason;
use crate::time::Timestamp;

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

/// A new open record, as the manager hands it to [`Store::create`](super::Store::create). Only the manager makes
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

    /// This stored state as of `now`, for a record with deadline `expires_at`: open past
    /// its deadline reads as expired at the deadline.
    #[must_use]
    pub fn as_of(self, expires_at: Timestamp, now: Timestamp) -> RecordState {
        match self {
            RecordState::Open if expires_at <= now => RecordState::Expired { at: expires_at },
            s => s,
        }
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
        self.state.as_of(self.expires_at, now)
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
