//! The growth section of the memory bench (`MEMORY_BENCH=growth`): create+complete, get
//! and list as a namespace and the store grow, and a create at the namespace bound as the
//! bound grows.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use oob::provider::FromVerifiedSubject;
use oob::time::{Clock, Timestamp};
use oob::{CallbackBase, Manager};

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
    at_the_bound(rounds, n);
}

/// A clock the bench moves: a millisecond per create.
#[derive(Clone, Default)]
struct Ticks(Arc<AtomicU64>);

impl Clock for Ticks {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(1_000_000_000 + self.0.load(Ordering::Relaxed))
    }
}

/// Creates in a namespace at its bound (10 … 10,000 open pendings), where one pending
/// expires each millisecond and each create comes a millisecond after the last: every
/// create finds the namespace full but for one expired pending.
fn at_the_bound(rounds: usize, n: u64) {
    let caller = users(1);
    let cases: Vec<_> = [10u64, 100, 1_000, 10_000]
        .into_iter()
        .map(|bound| {
            let clock = Ticks::default();
            let m: Mgr<Owned, MemoryStore<Owned>> = Manager::builder()
                .store(MemoryStore::new())
                .provider(FromVerifiedSubject)
                .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
                .max_open_per_namespace(usize::try_from(bound).expect("bound"))
                .clock(clock.clone())
                .build();
            let spec = move || super::common::spec::<Owned>().ttl(Duration::from_millis(bound));
            for _ in 0..bound {
                clock.0.fetch_add(1, Ordering::Relaxed);
                ready(m.create(&caller[0], spec())).expect("fill");
            }
            (format!("bound {bound}"), m, clock, spec)
        })
        .collect();
    let mut b: Vec<Batch<'_>> = Vec::new();
    for (label, m, clock, spec) in &cases {
        let caller = &caller[0];
        b.push((
            label.as_str(),
            Box::new(move |k| {
                for _ in 0..k {
                    clock.0.fetch_add(1, Ordering::Relaxed);
                    black_box(ready(m.create(caller, spec())).expect("create at the bound"));
                }
            }),
        ));
    }
    interleave(rounds, n, b).print(
        "growth: create at the namespace bound, one expiring per create,",
        0,
    );
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
