//! Lifecycle: waiters, dedup, capacity, the create rate, expiry at the deadline, the
//! sweeper.
//!
//! One file each: waiters (`waiters`), dedup and the decline cooldown (`dedup`), capacity
//! (`capacity`), the create rate (`create_rate`), the sweeper (`sweeper`), and
//! `complete_with` persisting before it wakes (`complete_with`).

#[path = "lifecycle/waiters.rs"]
mod waiters;

#[path = "lifecycle/dedup.rs"]
mod dedup;

#[path = "lifecycle/capacity.rs"]
mod capacity;

#[path = "lifecycle/create_rate.rs"]
mod create_rate;

#[path = "lifecycle/sweeper.rs"]
mod sweeper;

#[path = "lifecycle/complete_with.rs"]
mod complete_with;
