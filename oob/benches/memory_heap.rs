//! Heap bytes per open pending in the memory store, counted by a counting allocator:
//! 1,000,000 open pendings over 1,000 namespaces, on the Go reference's workload; then the
//! same after one `create_or_join` per namespace (which joins, and gives every namespace its
//! dedup index).
//!
//! Run with `cargo bench -p oob --bench memory_heap`. (Kept apart from the timing benches:
//! the counting allocator's atomics would slow every allocation they measure.)

mod common;

use std::alloc::System;
use std::time::Duration;

use common::{Owned, Shared, Workload, fill, manager, users};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn measure<P: Workload>(join: bool) -> f64 {
    let users = users(1_000);
    let n = 1_000_000;
    let mut ids = Vec::with_capacity(n);
    let region = Region::new(GLOBAL);
    let m = manager::<P>(Duration::ZERO);
    ids.extend(fill(&m, &users, n));
    if join {
        for u in &users {
            let joined = common::ready(m.create_or_join(u, common::spec::<P>())).expect("join");
            assert!(matches!(joined, oob::Joined::Joined(_)));
        }
    }
    let change = region.change();
    // realloc growth is already in bytes_allocated / bytes_deallocated.
    let retained = change.bytes_allocated as f64 - change.bytes_deallocated as f64;
    assert_eq!(m.store().open_count(), n);
    drop(m);
    drop(ids);
    retained / n as f64
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    for (name, join, bytes) in [
        (Owned::NAME, false, measure::<Owned>(false)),
        (Shared::NAME, false, measure::<Shared>(false)),
        (Owned::NAME, true, measure::<Owned>(true)),
        (Shared::NAME, true, measure::<Shared>(true)),
    ] {
        let index = if join { "with" } else { "without" };
        println!(
            "heap bytes per open pending, 1,000,000 over 1,000 namespaces, payload with {name}, {index} dedup index: {bytes:.1} (Go reference: 547; target <= 275)"
        );
    }
}
