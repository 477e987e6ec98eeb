//! The sealed state markers of a [`Pending`](crate::Pending).
//!
//! A pending is [`Open`] until exactly one transition moves it to [`Completed`] or
//! [`Cancelled`], or time moves it to [`Expired`]. The markers cannot be built outside this
//! crate and the [`State`] trait cannot be implemented outside it, so a
//! `Pending<T, Completed>` only ever comes from the store: from the call that won its atomic
//! transition, or read back. Neither writes anything: the namespace capability of a
//! completion exists only inside [`Manager::complete_with`](crate::Manager::complete_with)'s
//! persist step.

use crate::time::Timestamp;

mod sealed {
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be a pending state: the states are sealed",
        label = "not one of `oob::state::{{Open, Completed, Cancelled, Expired}}`",
        note = "only the manager moves a pending between `Open`, `Completed`, `Cancelled` and `Expired`; to tell outcomes apart, match on `oob::AnyPending` or `oob::Outcome` instead of adding a state"
    )]
    pub trait Sealed {}
}

/// A state a [`Pending`](crate::Pending) can be in. Sealed: implemented by [`Open`],
/// [`Completed`], [`Cancelled`] and [`Expired`] only.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a pending state",
    label = "not one of `oob::state::{{Open, Completed, Cancelled, Expired}}`",
    note = "the pending states are sealed: only the manager moves a pending between `Open`, `Completed`, `Cancelled` and `Expired`"
)]
pub trait State: sealed::Sealed + Send + Sync + 'static {
    /// The state's name, for messages.
    const NAME: &'static str;
}

/// The pending is open: the interaction has not finished and has not expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open {
    _sealed: (),
}

/// The pending was completed, exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completed {
    pub(crate) at: Timestamp,
}

/// The pending was cancelled by the service or declined by the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cancelled {
    pub(crate) at: Timestamp,
    pub(crate) reason: CancelReason,
}

/// The pending reached its deadline while open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expired {
    pub(crate) at: Timestamp,
}

/// Who ended a cancelled pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    /// The service cancelled it.
    Cancelled,
    /// The user declined.
    Declined,
}

impl Open {
    pub(crate) const fn new() -> Self {
        Self { _sealed: () }
    }
}

impl Completed {
    /// When it was completed.
    #[must_use]
    pub fn at(&self) -> Timestamp {
        self.at
    }
}

impl Cancelled {
    /// When it was cancelled or declined.
    #[must_use]
    pub fn at(&self) -> Timestamp {
        self.at
    }
    /// Whether the service cancelled it or the user declined.
    #[must_use]
    pub fn reason(&self) -> CancelReason {
        self.reason
    }
}

impl Expired {
    /// Its deadline.
    #[must_use]
    pub fn at(&self) -> Timestamp {
        self.at
    }
}

impl sealed::Sealed for Open {}
impl sealed::Sealed for Completed {}
impl sealed::Sealed for Cancelled {}
impl sealed::Sealed for Expired {}

impl State for Open {
    const NAME: &'static str = "open";
}
impl State for Completed {
    const NAME: &'static str = "completed";
}
impl State for Cancelled {
    const NAME: &'static str = "cancelled";
}
impl State for Expired {
    const NAME: &'static str = "expired";
}
