//! [`Pending`]: a pending interaction in a typestate.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::payload::OobPayload;
use crate::state::{CancelReason, Cancelled, Completed, Expired, Open, State};
use crate::store::{Body, Record, RecordState};
use crate::time::Timestamp;

/// How a manager renders callback URLs: its base and the payload's route, split at `{id}`.
#[derive(Debug)]
pub(crate) struct CallbackTemplate {
    pub(crate) prefix: String,
    pub(crate) suffix: &'static str,
}

impl CallbackTemplate {
    pub(crate) fn render(&self, id: PendingId) -> String {
        let id = id.encode();
        let mut url = String::with_capacity(self.prefix.len() + 36 + self.suffix.len());
        url.push_str(&self.prefix);
        url.push_str(id.as_str());
        url.push_str(self.suffix);
        url
    }
}

/// A pending out-of-band interaction of payload type `T`, in state `S`.
///
/// Only a [`Manager`](crate::Manager) makes these, from what its store holds: fields are
/// private and there is no constructor. An `Open` pending is a snapshot that the manager
/// consumes to complete or cancel it; only the store decides which of several concurrent
/// attempts wins. No pending, in any state, yields a [`NamespaceToken`](crate::NamespaceToken): the call that wins
/// a completion gets one in its persist step
/// ([`Manager::complete_with`](crate::Manager::complete_with)), so a completed pending read
/// back later (by a replayed callback, a waiter, a join) can report the outcome and the data
/// but can never write.
pub struct Pending<T, S: State> {
    id: PendingId,
    namespace: Namespace,
    created_at: Timestamp,
    expires_at: Timestamp,
    body: Arc<Body<T>>,
    callback: Arc<CallbackTemplate>,
    state: S,
}

impl<T, S: State> fmt::Debug for Pending<T, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The payload and the namespace are never printed: they may be secrets or personal
        // data.
        f.debug_struct("Pending")
            .field("id", &self.id)
            .field("state", &S::NAME)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Getters available in every state.
impl<T, S: State> Pending<T, S> {
    /// The id (the `{id}` of the callback URL).
    #[must_use]
    pub fn id(&self) -> PendingId {
        self.id
    }

    /// The namespace the pending belongs to.
    #[must_use]
    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// The kind (`T::KIND`).
    #[must_use]
    pub fn kind(&self) -> &'static str
    where
        T: OobPayload,
    {
        T::KIND
    }

    /// The caller's alias, if any.
    #[must_use]
    pub fn alias(&self) -> Option<&str> {
        self.body.alias()
    }

    /// The resource, if any.
    #[must_use]
    pub fn resource(&self) -> Option<&str> {
        self.body.resource()
    }

    /// The MCP elicitation id given at creation, if any.
    #[must_use]
    pub fn elicit_id(&self) -> Option<&str> {
        self.body.elicit_id()
    }

    /// When it was created.
    #[must_use]
    pub fn created_at(&self) -> SystemTime {
        self.created_at.to_system_time()
    }

    /// When it stops (or stopped) being open.
    #[must_use]
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at.to_system_time()
    }

    /// The payload.
    #[must_use]
    pub fn data(&self) -> &T {
        self.body.data()
    }

    /// The payload, by value (moved out when nothing else shares it, cloned otherwise).
    #[must_use]
    pub fn into_data(self) -> T
    where
        T: Clone,
    {
        self.body.into_data()
    }

    /// The callback URL the user opens: the manager's base followed by `T::ROUTE` with this
    /// id in place of `{id}`.
    #[must_use]
    pub fn callback_url(&self) -> String {
        self.callback.render(self.id)
    }

    /// The state value.
    #[must_use]
    pub fn state(&self) -> &S {
        &self.state
    }
}

/// A pending in state `state` from a store record (the caller has checked that the record
/// is in that state). A free function, not an associated one: rustc suggests an associated
/// constructor to code that tries to build a `Pending` by hand, even a crate-private one.
#[inline]
pub(crate) fn from_record<T, S: State>(
    record: Record<T>,
    state: S,
    callback: Arc<CallbackTemplate>,
) -> Pending<T, S> {
    Pending {
        id: record.id,
        namespace: record.namespace,
        created_at: record.created_at,
        expires_at: record.expires_at,
        body: record.body,
        callback,
        state,
    }
}

/// An open pending: waiting for the user. What [`Manager::complete`](crate::Manager::complete),
/// [`complete_with`](crate::Manager::complete_with), [`cancel`](crate::Manager::cancel) and
/// [`decline`](crate::Manager::decline) consume (by value: a pending finishes once).
impl<T> Pending<T, Open> {
    /// The id and namespace the manager checks the store's answer against.
    pub(crate) fn open_parts(&self) -> (PendingId, &Namespace) {
        (self.id, &self.namespace)
    }

    /// Whether the deadline has passed at `now` (the store refuses to transition it then).
    #[must_use]
    pub fn is_expired_at(&self, now: SystemTime) -> bool {
        self.expires_at <= Timestamp::from_system_time(now)
    }
}

/// A completed pending (it reports the outcome; it cannot write: see [`NamespaceToken`](crate::NamespaceToken)).
impl<T> Pending<T, Completed> {
    /// When it was completed.
    #[must_use]
    pub fn completed_at(&self) -> SystemTime {
        self.state.at.to_system_time()
    }
}

/// A cancelled or declined pending.
impl<T> Pending<T, Cancelled> {
    /// When it was cancelled or declined.
    #[must_use]
    pub fn cancelled_at(&self) -> SystemTime {
        self.state.at.to_system_time()
    }

    /// Whether the service cancelled it or the user declined it.
    #[must_use]
    pub fn reason(&self) -> CancelReason {
        self.state.reason
    }

    /// Whether the user declined it.
    #[must_use]
    pub fn is_declined(&self) -> bool {
        self.state.reason == CancelReason::Declined
    }
}

/// A pending whose deadline passed while it was open.
impl<T> Pending<T, Expired> {
    /// When it expired (its deadline).
    #[must_use]
    pub fn expired_at(&self) -> SystemTime {
        self.state.at.to_system_time()
    }
}

/// A pending in whichever state the store holds it. `Debug` needs no `T: Debug` (and prints
/// no payload).
#[non_exhaustive]
pub enum AnyPending<T> {
    /// Open.
    Open(Pending<T, Open>),
    /// Completed.
    Completed(Pending<T, Completed>),
    /// Cancelled or declined.
    Cancelled(Pending<T, Cancelled>),
    /// Expired.
    Expired(Pending<T, Expired>),
}

impl<T> fmt::Debug for AnyPending<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open(p) => f.debug_tuple("Open").field(p).finish(),
            Self::Completed(p) => f.debug_tuple("Completed").field(p).finish(),
            Self::Cancelled(p) => f.debug_tuple("Cancelled").field(p).finish(),
            Self::Expired(p) => f.debug_tuple("Expired").field(p).finish(),
        }
    }
}

impl<T> AnyPending<T> {
    pub(crate) fn from_record(record: Record<T>, callback: Arc<CallbackTemplate>) -> Self {
        match record.state {
            RecordState::Open => Self::Open(from_record(record, Open::new(), callback)),
            RecordState::Completed { at } => {
                Self::Completed(from_record(record, Completed { at }, callback))
            }
            RecordState::Cancelled { at, reason } => {
                Self::Cancelled(from_record(record, Cancelled { at, reason }, callback))
            }
            RecordState::Expired { at } => {
                Self::Expired(from_record(record, Expired { at }, callback))
            }
        }
    }

    /// The id.
    #[must_use]
    pub fn id(&self) -> PendingId {
        match self {
            Self::Open(p) => p.id(),
            Self::Completed(p) => p.id(),
            Self::Cancelled(p) => p.id(),
            Self::Expired(p) => p.id(),
        }
    }

    /// The namespace.
    #[must_use]
    pub fn namespace(&self) -> &Namespace {
        match self {
            Self::Open(p) => p.namespace(),
            Self::Completed(p) => p.namespace(),
            Self::Cancelled(p) => p.namespace(),
            Self::Expired(p) => p.namespace(),
        }
    }

    /// The state's name: `"open"`, `"completed"`, `"cancelled"` or `"expired"`.
    #[must_use]
    pub fn state_name(&self) -> &'static str {
        match self {
            Self::Open(_) => Open::NAME,
            Self::Completed(_) => Completed::NAME,
            Self::Cancelled(_) => Cancelled::NAME,
            Self::Expired(_) => Expired::NAME,
        }
    }
}
