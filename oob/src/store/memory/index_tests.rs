//! Random operation sequences on the memory store, checking after each one that every
//! index and count describes the records exactly ([`Table::check`](super::table::Table)),
//! and that a namespace's list is exactly its records open at that time.

use std::collections::HashMap;

use super::tests::ready;
use super::*;
use crate::store::Body;

/// A small deterministic generator (xorshift), so a failing sequence repeats exactly.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % n as u64).expect("small")
    }
}

const NAMESPACES: [&str; 3] = ["a", "b", "c"];

/// Checks every index and count of the store (a decline a purge at `now` would forget may be
/// forgotten by the dedup index first).
pub(super) fn check(store: &MemoryStore<u32>, now: Timestamp) {
    let retention = store.retention();
    store
        .lock()
        .check(|e| lifecycle::purge_due(e.state, e.expires_at, retention, now));
}

fn run(retention: Duration, seed: u64, steps: usize) {
    let store = MemoryStore::<u32>::new().with_retention(retention);
    let mut rng = Rng(seed);
    let mut now = 1_000_000u64;
    let mut ids: Vec<(PendingId, usize)> = Vec::new();
    let limits = Limits::new(6, 14);
    // A purge in progress: its token, and the records due when it started.
    let mut purging: Option<(u64, Vec<PendingId>)> = None;
    for step in 0..steps {
        let at = Timestamp::from_millis(now);
        let at_now = at;
        match rng.below(20) {
            0..=6 => {
                let ns = rng.below(NAMESPACES.len());
                let alias = [None, Some("x"), Some("y")][rng.below(3)].map(Into::into);
                let ttl = [10, 40, 1_000][rng.below(3)];
                let record = Record::new(
                    PendingId::random(),
                    Namespace::new(NAMESPACES[ns]).expect("namespace"),
                    at,
                    Timestamp::from_millis(now + ttl),
                    RecordState::Open,
                    Arc::new(Body::new(7, alias, None, None)),
                );
                let dedup = if rng.below(2) == 0 {
                    Dedup::Never
                } else {
                    Dedup::Join {
                        decline_cooldown: Duration::from_millis(30),
                    }
                };
                let new = NewRecord::new(record);
                if let Ok(Created::Inserted) = ready(store.create(&new, limits, dedup, at)) {
                    ids.push((new.record().id, ns));
                }
            }
            7..=10 if !ids.is_empty() => {
                let (id, _) = ids[rng.below(ids.len())];
                let _ = match rng.below(4) {
                    0 => ready(store.cancel(id, CancelReason::Declined, None, at)),
                    1 => ready(store.cancel(id, CancelReason::Cancelled, None, at)),
                    2 => ready(store.complete(id, None, at, Wake::Now)),
                    _ => ready(store.complete(id, None, at, Wake::Later)).inspect(|r| {
                        ready(store.wake(r)).expect("wake");
                    }),
                };
            }
            11 => match purging.take() {
                // A purge in steps, other operations (a whole purge among them) between
                // them: when it ends, every record due at its start is gone.
                Some((token, due)) if rng.below(4) > 0 => {
                    let mut table = store.lock();
                    let budget = 1 + rng.below(4);
                    if table.purge_some(token, budget, &mut Vec::new()) {
                        for id in due {
                            assert!(table.slot(&id).is_none(), "seed {seed}, step {step}");
                        }
                    } else {
                        purging = Some((token, due));
                    }
                }
                None if rng.below(2) == 0 => {
                    let mut table = store.lock();
                    let due: Vec<PendingId> = ids
                        .iter()
                        .map(|&(id, _)| id)
                        .filter(|id| {
                            table.slot(id).is_some_and(|at| {
                                let e = table.entry(at);
                                lifecycle::purge_due(e.state, e.expires_at, retention, at_now)
                            })
                        })
                        .collect();
                    purging = Some((table.purge_start(at, retention), due));
                }
                stepwise => {
                    purging = stepwise;
                    ready(store.purge(at)).expect("purge");
                }
            },
            12 if rng.below(8) == 0 => {
                let ns = Namespace::new(NAMESPACES[rng.below(3)]).expect("namespace");
                ready(store.clear_namespace(NamespaceScope::new(&ns))).expect("clear");
            }
            _ => now += [0, 1, 5, 20][rng.below(4)] as u64,
        }
        // Each namespace lists exactly its records that are open now.
        let at = Timestamp::from_millis(now);
        check(&store, at);
        let mut open: HashMap<usize, Vec<PendingId>> = HashMap::new();
        for &(id, ns) in &ids {
            if let Some(r) = ready(store.get(id, at)).expect("get")
                && r.state.is_open()
            {
                open.entry(ns).or_default().push(id);
            }
        }
        for (i, name) in NAMESPACES.iter().enumerate() {
            let ns = Namespace::new(*name).expect("namespace");
            let listed = ready(store.list_namespace(NamespaceScope::new(&ns), at)).expect("list");
            let mut listed: Vec<PendingId> = listed.iter().map(|r| r.id).collect();
            let mut expected = open.remove(&i).unwrap_or_default();
            listed.sort_unstable();
            expected.sort_unstable();
            assert_eq!(
                listed, expected,
                "seed {seed}, step {step}, namespace {name}"
            );
        }
    }
}

#[test]
fn random_operations_keep_every_index_exact_with_retention() {
    for seed in 1..=12 {
        run(Duration::from_millis(40), seed * 0x9e37_79b9, 1_500);
    }
}

#[test]
fn random_operations_keep_every_index_exact_with_zero_retention() {
    for seed in 1..=12 {
        run(Duration::ZERO, seed * 0x85eb_ca6b, 1_500);
    }
}
