//! The store conformance suite: one set of cases that every [`Store`] must pass.
//!
//! Invoke [`store_conformance!`](crate::store_conformance) in a test file with a path to an
//! `async fn(retention: Duration) -> S` that returns a fresh, empty, isolated store:
//!
//! ```ignore
//! async fn make(retention: Duration) -> MemoryStore<DeviceCode> {
//!     MemoryStore::new().with_retention(retention)
//! }
//! oob_tests::store_conformance!(make);
//! ```
//!
//! Time is the manager's: a [`ManualClock`] that starts at the real current time and only
//! moves when a case advances it, so stores with real-time key TTLs still behave.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use oob::provider::FromVerifiedSubject;
use oob::state::CancelReason;
use oob::store::{
    CreateError, Created, Dedup, Finished, Limits, NewRecord, RecordState, Scope, Store,
    TransitionError, Wake,
};
use oob::time::{Clock, SystemClock, Timestamp};
use oob::vault::{MemoryVault, Vault};
use oob::{AnyPending, CallbackBase, Error, Joined, Manager, Outcome, PendingId, Spec};

use crate::{DeviceCode, device_code, finished, ns, spawn_wait, spec, user};

mod basics;
mod counts;
mod dedup_capacity;
mod exact;
mod lifecycle;
mod waiters;
mod wake_later;

pub use basics::*;
pub use counts::*;
pub use dedup_capacity::*;
pub use exact::*;
pub use lifecycle::*;
pub use waiters::*;
pub use wake_later::*;

/// The retention window the macro gives stores for most cases.
pub const RETENTION: Duration = Duration::from_secs(300);

/// Generates one `#[tokio::test]` per conformance case in the invoking module.
///
/// `$make` is a path to `async fn(retention: std::time::Duration) -> S` where
/// `S: oob::store::Store<DeviceCode> + Clone` returns a FRESH, EMPTY, ISOLATED store with
/// that retention window for finished records (each call must not see other calls' data).
#[macro_export]
macro_rules! store_conformance {
    ($make:path) => {
        $crate::store_conformance!(@cases $make, $crate::conformance::RETENTION;
            create_then_get_round_trips,
            create_refuses_a_duplicate_id,
            get_unknown_is_none,
            complete_is_single_and_final,
            cancel_and_decline_are_final,
            transitions_of_unknown_ids_are_not_found,
            list_namespace_returns_open_only,
            clear_namespace_touches_no_other_namespace,
            expiry_is_enforced_on_read_transition_and_list,
            retention_keeps_outcomes_then_purge_forgets,
            purge_keeps_open_and_forgets_expired_after_window,
            complete_in_checks_the_namespace,
            another_namespace_learns_nothing_of_the_state,
            create_or_join_joins_the_same_key_only,
            create_or_join_joins_the_earliest_deadline,
            decline_cooldown_answers_then_lapses,
            a_cancel_after_a_decline_keeps_its_cooldown,
            declines_from_a_clock_ahead_follow_the_rules,
            capacity_per_namespace_leaves_store_unchanged,
            capacity_total_leaves_store_unchanged,
            expired_pendings_do_not_count_against_capacity,
            waiter_is_woken_by_complete_on_another_task,
            waiter_is_woken_with_cancel_and_decline,
            waiter_after_the_outcome_gets_it,
            waiter_sees_expiry,
            waiter_sees_removal_by_clear,
            complete_with_persists_before_waking,
            store_wake_later_holds_waiters,
            payload_and_labels_survive_unicode,
            capacity_scope_is_the_namespace_when_both_bounds_are_exceeded,
            expiry_is_exact_to_the_millisecond,
            expired_pendings_free_capacity_at_the_millisecond,
            reads_end_with_the_retention_window,
            purge_forgets_at_the_millisecond_the_window_ends,
            decline_cooldown_is_exact_and_the_latest_decline_answers,
            the_latest_deadline_is_kept_exactly,
            list_namespace_ends_at_the_deadline,
            a_record_finished_by_a_clock_ahead_is_not_listed,
            a_clear_gives_both_bounds_their_room_back,
            a_create_at_the_bound_keeps_finished_outcomes
        );
        $crate::store_conformance!(@cases $make, ::std::time::Duration::ZERO;
            zero_retention_forgets_at_once_and_waiters_get_outcome,
            zero_retention_is_gone_when_the_call_returns,
            zero_retention_wake_later_keeps_the_record_until_wake,
            zero_retention_purge_keeps_a_record_awaiting_wake
        );
        $crate::store_conformance!(@mt $make, $crate::conformance::RETENTION;
            concurrent_completers_exactly_one_wins,
            concurrent_create_or_join_yields_one_pending,
            concurrent_creates_respect_capacity
        );
        $crate::store_conformance!(@mt $make, ::std::time::Duration::ZERO;
            zero_retention_readers_see_the_record_or_its_event
        );
    };
    (@cases $make:path, $retention:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                $crate::conformance::$case($make($retention).await).await;
            }
        )*
    };
    (@mt $make:path, $retention:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::conformance::$case($make($retention).await).await;
            }
        )*
    };
}

/// A clock that starts at the real current time and moves only when advanced.
#[derive(Debug, Clone)]
pub struct ManualClock {
    ms: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock at the real current time.
    #[must_use]
    pub fn new() -> Self {
        Self {
            ms: Arc::new(AtomicU64::new(SystemClock.now().as_millis())),
        }
    }

    /// The clock's time, as a `SystemTime`.
    #[must_use]
    pub fn now_system(&self) -> std::time::SystemTime {
        self.now().to_system_time()
    }

    /// Moves the clock forward.
    pub fn advance(&self, d: Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Moves the clock back (a clock stepped back by NTP, another replica's clock).
    pub fn back(&self, d: Duration) {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        self.ms.fetch_sub(ms, Ordering::SeqCst);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.ms.load(Ordering::SeqCst))
    }
}

/// The manager the cases use.
pub type ConfManager<S> = Manager<DeviceCode, S, FromVerifiedSubject>;

/// Manager options for a case.
#[derive(Debug, Clone, Copy)]
pub struct Opts {
    /// Open pendings per namespace.
    pub per_namespace: usize,
    /// Open pendings in the store.
    pub total: usize,
    /// Decline cooldown.
    pub cooldown: Duration,
}

impl Default for Opts {
    fn default() -> Self {
        Self {
            per_namespace: 1_000,
            total: usize::MAX,
            cooldown: Duration::ZERO,
        }
    }
}

/// A manager over `store` on a fresh [`ManualClock`].
pub fn manager_on<S: Store<DeviceCode>>(store: S, opts: Opts) -> (ConfManager<S>, ManualClock) {
    let clock = ManualClock::new();
    let m = Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("valid base"))
        .clock(clock.clone())
        .max_open_per_namespace(opts.per_namespace)
        .max_open_total(opts.total)
        .decline_cooldown(opts.cooldown)
        .build();
    (m, clock)
}

fn setup<S: Store<DeviceCode>>(store: S) -> (ConfManager<S>, ManualClock) {
    manager_on(store, Opts::default())
}

/// The ids of the open pendings that the verified caller `n` lists.
async fn list_ids<S: Store<DeviceCode>>(m: &ConfManager<S>, n: &str) -> HashSet<PendingId> {
    let list = m.list(&user(n)).await.expect("list");
    list.iter().map(oob::Pending::id).collect()
}
