//! The invariants, each a counted figure: what a run found broken, with a few examples.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// One invariant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invariant {
    /// An acknowledged create, transition or vault write that a later read did not find.
    AckedLost,
    /// A pending that more than one transition (complete, cancel, decline) won.
    FinishedTwice,
    /// A waiter that returned well after its pending finished, or timed out on it.
    WaiterHung,
    /// A waiter told another outcome than the one that won.
    OutcomeMismatch,
    /// A read or write that met another user's namespace (canaries, lists, vault keys).
    CrossNamespace,
    /// A compare-and-swap vault write that a concurrent one overwrote.
    VaultCasLost,
    /// Records still stored after every deadline, the retention window and a purge.
    LeftAfterPurge,
    /// A waiter on a pending that another call completed or cancelled, answered `Removed`
    /// within the soak's hang limit (5 s) of the end of the record's window (counted
    /// from the store's stamp): its reads could not reach the record while it was readable
    /// (the store down through the window, as the fault runs do with a 2 s retention).
    /// Measured on every backend, never enforced: the truth, though not the outcome.
    RemovedAfterWindow,
}

impl Invariant {
    /// Every invariant, in report order.
    pub const ALL: [Invariant; 8] = [
        Invariant::AckedLost,
        Invariant::FinishedTwice,
        Invariant::WaiterHung,
        Invariant::OutcomeMismatch,
        Invariant::CrossNamespace,
        Invariant::VaultCasLost,
        Invariant::LeftAfterPurge,
        Invariant::RemovedAfterWindow,
    ];

    /// What the report calls it.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Invariant::AckedLost => "acknowledged operations lost",
            Invariant::FinishedTwice => "pendings finished more than once",
            Invariant::WaiterHung => "waiters hung past their pending's end",
            Invariant::OutcomeMismatch => "waiters told another outcome",
            Invariant::CrossNamespace => "cross-namespace reads or writes",
            Invariant::VaultCasLost => "vault compare-and-swap writes lost",
            Invariant::LeftAfterPurge => "records left after purge (baseline 0)",
            Invariant::RemovedAfterWindow => {
                "waiters answered Removed within 5 s after the record's retention window"
            }
        }
    }

    /// Whether a run counts it without failing on it, on every backend.
    #[must_use]
    pub fn always_measured(self) -> bool {
        matches!(self, Invariant::RemovedAfterWindow)
    }
}

/// How many times each invariant broke, and the first examples.
#[derive(Debug, Default)]
pub struct Counts {
    counts: [AtomicU64; 8],
    examples: Mutex<Vec<String>>,
}

/// How many examples are kept.
const EXAMPLES: usize = 20;

impl Counts {
    /// Counts one breach of `inv`, described by `what`.
    pub fn breach(&self, inv: Invariant, what: impl FnOnce() -> String) {
        self.add(inv, 1, what);
    }

    /// Counts `n` breaches of `inv` (nothing when `n` is 0).
    pub fn add(&self, inv: Invariant, n: u64, what: impl FnOnce() -> String) {
        if n == 0 {
            return;
        }
        self.counts[inv as usize].fetch_add(n, Ordering::Relaxed);
        let mut ex = self.examples.lock().unwrap_or_else(PoisonError::into_inner);
        if ex.len() < EXAMPLES {
            ex.push(format!("{}: {}", inv.label(), what()));
        }
    }

    /// How many times `inv` broke.
    #[must_use]
    pub fn get(&self, inv: Invariant) -> u64 {
        self.counts[inv as usize].load(Ordering::Relaxed)
    }

    /// The sum over every invariant.
    #[must_use]
    pub fn total(&self) -> u64 {
        Invariant::ALL.iter().map(|i| self.get(*i)).sum()
    }

    /// The first breaches, described.
    #[must_use]
    pub fn examples(&self) -> Vec<String> {
        self.examples
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
