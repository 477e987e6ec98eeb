//! The lifecycle rules, written once: what every store decides the same way.
//!
//! A store does storage and atomicity; what it decides inside its atomic step comes from
//! here: which record a create joins ([`same_key`], [`joinable`]), which decline answers
//! during its cooldown ([`LatestDecline`]), which capacity bound a create exceeds
//! ([`capacity`]), whether a read still sees a finished record ([`visible`]), why a
//! transition is refused ([`refusal`]), when a record may be forgotten ([`purge_due`]), and
//! how a state is written as text ([`StateCode`]). The memory store calls these under its
//! lock; the SQLite store inside the transaction its connection thread holds; the
//! conformance suite and the model-based test hold every store to them.
//!
//! The rules, in words:
//! - **Expiry** is exact to the millisecond: an open record whose deadline is `<= now` is
//!   expired at that instant for every purpose (reads, transitions, dedup, capacity). The
//!   `now` is the calling manager's: replicas whose clocks differ may see one record open
//!   and expired at once, and a store that closes expired records (SQLite and Postgres at a
//!   bound; the memory store at a namespace bound, in a transition that finds the record
//!   expired, and in a dedup lookup that meets it) makes the first closing call's view
//!   final for everyone, where the Redis store and the memory store's total count go by
//!   each call's own clock: after a clock stepped back, a record one store still reads open
//!   another reads expired. Keep replicas' clocks in step (NTP); no store promises more.
//! - **Dedup**: a create with [`Dedup::Join`](super::Dedup::Join) joins an open, unexpired
//!   record of the same namespace with the same alias and resource (of several, which plain
//!   creates can make, the one with the earliest deadline: [`joined_before`]); failing that,
//!   the most recent decline with that key still in its cooldown answers; failing that, it
//!   inserts.
//! - **Capacity**: the per-namespace bound is checked first, so a create that exceeds both
//!   fails with [`Scope::Namespace`]; only open, unexpired records count.
//! - **Transitions** apply to an open, unexpired record. Refused: a record no read sees
//!   (never created, gone, or past its retention window) is not found; one in another
//!   namespace than the caller expects is a mismatch whatever its state (so how it ended
//!   is told only within its namespace; that it is gone, when no read sees it, is told to
//!   everyone); a finished or expired one says how it ended.
//! - **Retention**: a finished record stays readable for the retention window after it
//!   finished (an expired one: after its deadline) and is then gone for every read, purged
//!   or not. With zero retention a completed, cancelled or declined record is removed by the
//!   call that finished it (after its waiters were told; a completion whose waiters wake
//!   later, at its wake-up, or by a purge [`WAKE_GRACE`] after it; no read sees it once
//!   `WAKE_GRACE` has passed, purged or not: its completer died, or its deletion failed),
//!   and an expired one is gone at its deadline.

use std::time::Duration;

use super::{Body, Limits, RecordState, Scope, TransitionError};
use crate::state::CancelReason;
use crate::time::Timestamp;

/// The default retention window for finished records, the same for every store.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(300);

/// The rule for every store: with zero retention, a record completed with
/// [`Wake::Later`](super::Wake::Later) is kept for its [`wake`](super::Store::wake), and a
/// purge at `now` removes it only once `finished_at + WAKE_GRACE <= now` (so a waiter that
/// re-reads during the manager's persist step still finds the outcome, and the record of a
/// completer that died before its wake-up is still removed in the end).
pub const WAKE_GRACE: Duration = Duration::from_secs(60);

/// Whether two bodies have the same dedup key (alias and resource; the namespace and the
/// kind are the caller's to compare).
#[must_use]
pub fn same_key<T, U>(a: &Body<T>, b: &Body<U>) -> bool {
    a.alias() == b.alias() && a.resource() == b.resource()
}

/// Whether, of two joinable records with one key, the one with deadline `a` is joined
/// before the one with deadline `b`: the earliest deadline first (equal deadlines: either).
/// Every store keeps a key's records in this order (the memory store's key lists, SQLite's
/// and Postgres's `ORDER BY expires_at`, Redis's sorted set scored by deadline), so the
/// first is found without reading the others.
#[must_use]
pub fn joined_before(a: Timestamp, b: Timestamp) -> bool {
    a < b
}

/// Whether a record in `state` with deadline `expires_at` may be joined at `now`: open and
/// not past its deadline.
#[must_use]
pub fn joinable(state: RecordState, expires_at: Timestamp, now: Timestamp) -> bool {
    state.is_open() && expires_at > now
}

/// Whether a decline cooldown answers at all: one under a millisecond (the stores'
/// resolution) is none.
#[must_use]
pub fn has_cooldown(cooldown: Duration) -> bool {
    cooldown.as_millis() > 0
}

/// When a record in `state` was declined, if it was and its cooldown has not lapsed at
/// `now` (a decline answers while `declined_at + cooldown > now`). A cooldown under a
/// millisecond (the stores' resolution) is none: it never answers, also for a decline
/// stamped after `now` by a clock ahead of this one.
#[must_use]
pub fn cooling(state: RecordState, cooldown: Duration, now: Timestamp) -> Option<Timestamp> {
    match state {
        RecordState::Cancelled {
            at,
            reason: CancelReason::Declined,
        } if has_cooldown(cooldown) && at.saturating_add(cooldown) > now => Some(at),
        _ => None,
    }
}

/// Picks the decline that answers a create during the cooldown: the most recent one (the
/// first seen among equally recent ones).
#[derive(Debug)]
pub struct LatestDecline<K> {
    best: Option<(Timestamp, K)>,
}

impl<K> Default for LatestDecline<K> {
    fn default() -> Self {
        Self { best: None }
    }
}

impl<K> LatestDecline<K> {
    /// Offers a candidate, declined at `at`.
    pub fn offer(&mut self, at: Timestamp, key: K) {
        if self.best.as_ref().is_none_or(|(b, _)| at > *b) {
            self.best = Some((at, key));
        }
    }

    /// The decline that answers, if any.
    #[must_use]
    pub fn pick(self) -> Option<K> {
        self.best.map(|(_, k)| k)
    }
}

/// Whether one more open record fits: `namespace_open` and `total_open` count the open,
/// unexpired records of the namespace and of the store. The namespace bound is checked
/// first.
///
/// # Errors
/// The scope of the first bound the create would exceed.
pub fn capacity(namespace_open: usize, total_open: usize, limits: Limits) -> Result<(), Scope> {
    if namespace_open >= limits.per_namespace {
        Err(Scope::Namespace)
    } else if total_open >= limits.total {
        Err(Scope::Total)
    } else {
        Ok(())
    }
}

/// Whether a read at `now` still sees a record whose state as of `now` is `state` (see
/// [`Record::state_at`](super::Record::state_at)): open records always; expired ones until
/// their retention window ends; completed, cancelled and declined ones until their window
/// ends, or, with zero retention, until the call that finished them removes them (or the
/// wake-up of a [`Wake::Later`](super::Wake::Later) completion), and at the latest
/// [`WAKE_GRACE`] after they finished (a completer that died before its wake-up, a deletion
/// that failed: the same moment a purge removes them).
#[must_use]
pub fn visible(state: RecordState, retention: Duration, now: Timestamp) -> bool {
    match state {
        RecordState::Open => true,
        RecordState::Expired { at } => at.saturating_add(retention) > now,
        RecordState::Completed { at } | RecordState::Cancelled { at, .. } => {
            let kept = if retention.is_zero() {
                WAKE_GRACE
            } else {
                retention
            };
            at.saturating_add(kept) > now
        }
    }
}

/// Why a transition at `now` of a record whose state as of `now` is `state` is refused, or
/// `None` when it applies. `in_namespace` says whether the record is in the namespace the
/// caller expects (`true` when the caller names none). In this order: a record gone for
/// every read ([`visible`]) is [`NotFound`](TransitionError::NotFound); one in another
/// namespace is [`NamespaceMismatch`](TransitionError::NamespaceMismatch) whatever its
/// state, so a caller learns of another namespace's record only that it exists, not how it
/// ended (but, asking again, when no read sees it any more: past the retention window, or
/// with zero retention once it finished); a finished or expired one is
/// [`Finished`](TransitionError::Finished). The built-in stores follow it (and say so:
/// [`Store::follows_refusal_order`](super::Store::follows_refusal_order)); for any other
/// store, the manager passes a refusal on to a caller that expects a namespace only after
/// one read shows the record is in it.
#[must_use]
pub fn refusal(
    state: RecordState,
    retention: Duration,
    now: Timestamp,
    in_namespace: bool,
) -> Option<TransitionError> {
    if !visible(state, retention, now) {
        Some(TransitionError::NotFound)
    } else if !in_namespace {
        Some(TransitionError::NamespaceMismatch)
    } else {
        state.finished().map(TransitionError::Finished)
    }
}

/// When a record may be forgotten: the end of the retention window that starts when it
/// finished, or, for an open (or expired) record, at its deadline. With zero retention a
/// completed or cancelled record still in the store is one awaiting its
/// [`wake`](super::Store::wake) (every other transition removed its record at once): it may
/// be forgotten [`WAKE_GRACE`] after it finished.
#[must_use]
pub fn purge_at(state: RecordState, expires_at: Timestamp, retention: Duration) -> Timestamp {
    match state {
        RecordState::Open | RecordState::Expired { .. } => expires_at.saturating_add(retention),
        RecordState::Completed { at } | RecordState::Cancelled { at, .. }
            if retention.is_zero() =>
        {
            at.saturating_add(WAKE_GRACE)
        }
        RecordState::Completed { at } | RecordState::Cancelled { at, .. } => {
            at.saturating_add(retention)
        }
    }
}

/// Whether [`purge`](super::Store::purge) at `now` forgets the record.
#[must_use]
pub fn purge_due(
    state: RecordState,
    expires_at: Timestamp,
    retention: Duration,
    now: Timestamp,
) -> bool {
    purge_at(state, expires_at, retention) <= now
}

/// A record's state as stored: one code and, for a finished record, when it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StateCode {
    /// Open (expired once its deadline passed).
    Open,
    /// Completed.
    Completed,
    /// Cancelled by the service.
    Cancelled,
    /// Declined by the user.
    Declined,
    /// Stored as expired.
    Expired,
}

/// A stored state code that is not one of [`StateCode`]'s, or a finished state without its
/// time.
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid stored state")]
#[non_exhaustive]
pub struct BadState;

impl StateCode {
    /// The code of a state, and when it finished (for completed, cancelled and declined).
    #[must_use]
    pub fn of(state: RecordState) -> (Self, Option<Timestamp>) {
        match state {
            RecordState::Open => (Self::Open, None),
            RecordState::Expired { .. } => (Self::Expired, None),
            RecordState::Completed { at } => (Self::Completed, Some(at)),
            RecordState::Cancelled {
                at,
                reason: CancelReason::Cancelled,
            } => (Self::Cancelled, Some(at)),
            RecordState::Cancelled {
                at,
                reason: CancelReason::Declined,
            } => (Self::Declined, Some(at)),
        }
    }

    /// The code of a transition's target state.
    #[must_use]
    pub fn of_cancel(reason: CancelReason) -> Self {
        match reason {
            CancelReason::Cancelled => Self::Cancelled,
            CancelReason::Declined => Self::Declined,
        }
    }

    /// The state as of `now` of a record stored with this code.
    ///
    /// # Errors
    /// A finished code without `finished_at`.
    pub fn state(
        self,
        finished_at: Option<Timestamp>,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<RecordState, BadState> {
        Ok(match self {
            Self::Open if expires_at > now => RecordState::Open,
            Self::Open | Self::Expired => RecordState::Expired { at: expires_at },
            Self::Completed => RecordState::Completed {
                at: finished_at.ok_or(BadState)?,
            },
            Self::Cancelled | Self::Declined => RecordState::Cancelled {
                at: finished_at.ok_or(BadState)?,
                reason: if self == Self::Declined {
                    CancelReason::Declined
                } else {
                    CancelReason::Cancelled
                },
            },
        })
    }

    /// The code as one word (`open`, `completed`, `cancelled`, `declined`, `expired`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::Declined => "declined",
            Self::Expired => "expired",
        }
    }

    /// The code written by [`as_str`](Self::as_str).
    ///
    /// # Errors
    /// Any other text.
    pub fn parse(s: &str) -> Result<Self, BadState> {
        Ok(match s {
            "open" => Self::Open,
            "completed" => Self::Completed,
            "cancelled" => Self::Cancelled,
            "declined" => Self::Declined,
            "expired" => Self::Expired,
            _ => return Err(BadState),
        })
    }
}

#[cfg(test)]
#[path = "lifecycle_tests.rs"]
mod tests;
