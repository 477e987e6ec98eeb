//! The soak: simulated users on several manager replicas over one shared store and vault
//! create, join, complete, cancel, decline, let expire and wait, concurrently, while faults
//! are injected; then each invariant is counted and the figures reported, one table per
//! store.
//!
//! One concept per file: [`config`] (the command line), [`workload`] (the users),
//! [`interaction`] (one pending's round), [`vault_load`] (canaries and compare-and-swap
//! refreshes), [`invariants`] (the counted figures), [`run`] (one backend's run and its
//! end-of-run checks), [`faults`] (the fault tasks), [`sqlite_kill`] (the SIGKILLed SQLite
//! writer), [`backend`] (per-backend set-up), [`slow`] (the injected-latency store),
//! [`ops`] and [`report`] (the figures and the Markdown report).

pub mod backend;
pub mod config;
pub mod faults;
pub mod interaction;
pub mod invariants;
pub mod ops;
pub mod report;
pub mod rng;
pub mod run;
mod selfcheck;
pub mod slow;
pub mod sqlite_kill;
pub mod vault_load;
pub mod workload;

pub use ops::Ops;
pub use slow::{Slow, SlowStore};
