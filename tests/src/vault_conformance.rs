//! The vault conformance suite: one set of cases that every [`Vault`](oob::vault::Vault) must pass.
//!
//! Invoke [`vault_conformance!`](macro@crate::vault_conformance) in a test file with a path to an
//! `async fn(clock: ManualClock) -> V` that returns a fresh, empty, isolated
//! `V: Vault<String> + Clone` deciding expiry by `clock`:
//!
//! ```ignore
//! async fn make(clock: ManualClock) -> MemoryVault<String> {
//!     MemoryVault::new().with_clock(clock)
//! }
//! oob_tests::vault_conformance!(make);
//! ```
//!
//! Tokens come the two ways an application gets them: a manager's caller token for a
//! verified subject, and the persist step of a winning completion.
//!
//! One file each: basics (`basics`), namespaces and the token's two sources (`namespaces`),
//! keys (`keys`), expiry (`expiry`), and compare-and-swap (`compare_and_swap`).

use crate::TestManager;

mod basics;
mod compare_and_swap;
mod expiry;
mod keys;
mod namespaces;

pub use basics::*;
pub use compare_and_swap::*;
pub use expiry::*;
pub use keys::*;
pub use namespaces::*;

/// Generates one `#[tokio::test]` per vault conformance case in the invoking module.
#[macro_export]
macro_rules! vault_conformance {
    ($make:path) => {
        $crate::vault_conformance!(@cases $make;
            write_then_read_round_trips_with_metadata,
            namespaces_are_isolated,
            every_write_changes_the_version,
            delete_removes_and_says_whether_there_was_one,
            keys_are_sorted_and_live_only,
            expired_entries_read_as_absent,
            extreme_expiries_are_kept_or_end_at_once,
            keys_follow_one_rule,
            compare_and_swap_on_the_version,
            compare_and_swap_if_absent,
            concurrent_refreshes_lose_no_write,
            the_winning_completion_writes_and_the_caller_reads,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let clock = $crate::conformance::ManualClock::new();
                let vault = $make(clock.clone()).await;
                $crate::vault_conformance::$case(vault, clock).await;
            }
        )*
    };
}

fn manager() -> TestManager {
    crate::manager()
}
