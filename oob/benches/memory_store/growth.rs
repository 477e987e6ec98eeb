//! The growth section of the memory bench (`MEMORY_BENCH=growth`): create+complete, get
//! and list as a namespace and the store grow.

use std::time::Duration;

use oob::Store;
use oob::provider::VerifiedSubject;
use oob::store::MemoryStore;

use super::common::naive::NaiveStore;
use super::common::rounds::{Batch, interleave};
use super::common::{Owned, fill, manager_over, ready, users};
use super::{Mgr, gets, lists, pairs};

/// Create+complete and get in one namespace holding 10 … 10,000 open pendings, and in a
/// store holding 0 … 100,000 retained (finished) records over 1,000 namespaces; the naive
/// map at the smallest and largest store size shows what memory alone costs (caches).
pub(super) fn growth(rounds: usize, n: u64) {
    let caller = users(1);
    let spread = users(1_000);
    let mut namespaces = Vec::new();
    for open in [10usize, 100, 1_000, 10_000] {
        let m = manager_over::<Owned, _>(MemoryStore::new().with_retention(Duration::ZERO), 20_000);
        let ids = fill(&m, &caller, open);
        namespaces.push((format!("namespace of {open} open"), m, ids));
    }
    let mut stores = Vec::new();
    for r in [0usize, 1_000, 10_000, 100_000] {
        let m = manager_over::<Owned, _>(MemoryStore::new(), 20_000);
        let ids = retained(&m, &spread, r);
        stores.push((format!("store of {r} retained"), m, ids));
    }
    let mut naive = Vec::new();
    for r in [0usize, 100_000] {
        let m = manager_over::<Owned, _>(NaiveStore::new(true), 20_000);
        let ids = retained(&m, &spread, r);
        naive.push((format!("naive map of {r} retained"), m, ids));
    }
    let mut b: Vec<Batch<'_>> = Vec::new();
    for (label, m, _) in &namespaces {
        b.push((label.as_str(), Box::new(pairs(m, &caller))));
    }
    interleave(rounds, n, b).print("growth: create+complete, retention 0, in a namespace of", 0);
    let mut b: Vec<Batch<'_>> = Vec::new();
    for (label, m, _) in &stores {
        b.push((label.as_str(), Box::new(pairs(m, &spread))));
    }
    for (label, m, _) in &naive {
        b.push((label.as_str(), Box::new(pairs(m, &spread))));
    }
    interleave(rounds, n, b).print("growth: create+complete, retention 300 s, in a store of", 0);
    let mut b: Vec<Batch<'_>> = Vec::new();
    for (label, m, ids) in &namespaces {
        b.push((label.as_str(), Box::new(gets(m, ids))));
    }
    interleave(rounds, n, b).print("growth: get in a namespace of", 0);
    let mut b: Vec<Batch<'_>> = Vec::new();
    for (label, m, ids) in &stores {
        b.push((label.as_str(), Box::new(gets(m, ids))));
    }
    for (label, m, ids) in &naive {
        b.push((label.as_str(), Box::new(gets(m, ids))));
    }
    interleave(rounds, n, b).print("growth: get in a store of", 0);
    let mut lists_of = Vec::new();
    for r in [0usize, 1_000, 10_000] {
        let m = manager_over::<Owned, _>(MemoryStore::new(), 20_000);
        for id in fill(&m, &caller, r) {
            ready(m.complete_id(id)).expect("complete");
        }
        let _ = fill(&m, &caller, 10);
        lists_of.push((format!("namespace of 10 open and {r} retained"), m));
    }
    let mut b: Vec<Batch<'_>> = Vec::new();
    for (label, m) in &lists_of {
        b.push((label.as_str(), Box::new(lists(m, &caller))));
    }
    interleave(rounds, n, b).print("growth: list in a", 0);
}

/// `r` finished (retained) records over the callers, and one open one when `r` is 0.
fn retained<S: Store<Owned>>(
    m: &Mgr<Owned, S>,
    callers: &[VerifiedSubject],
    r: usize,
) -> Vec<oob::PendingId> {
    let ids = fill(m, callers, r.max(1));
    for id in ids.iter().take(r) {
        ready(m.complete_id(*id)).expect("complete");
    }
    ids
}
