use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use super::*;
use crate::store::{Body, Scope};

pub(super) fn ready<F: Future>(f: F) -> F::Output {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("memory store future suspended"),
    }
}

pub(super) fn new(ns: &str, now: Timestamp, ttl_ms: u64) -> NewRecord<u32> {
    NewRecord::new(Record::new(
        PendingId::random(),
        Namespace::new(ns).expect("namespace"),
        now,
        Timestamp::from_millis(now.as_millis() + ttl_ms),
        RecordState::Open,
        Arc::new(Body::new(7, None, None, None)),
    ))
}

const T0: Timestamp = Timestamp::from_millis(1_000_000);

#[test]
fn with_retention_keeps_the_records() {
    let store = MemoryStore::<u32>::new();
    let r = new("a", T0, 1_000);
    ready(store.create(&r, Limits::default(), Dedup::Never, T0)).expect("create");
    let store = store.with_retention(Duration::from_secs(1));
    assert_eq!(store.len(), 1);
    assert!(ready(store.get(r.record().id, T0)).expect("get").is_some());
}

/// The total bound frees up the millisecond the blocking record expires, however often
/// creates hit it before (no scan throttle), and the namespace bound is reported first.
#[test]
fn expiry_frees_both_bounds_to_the_millisecond() {
    let store = MemoryStore::<u32>::new();
    let limits = Limits::new(1, 2);
    let create = |ns, at: Timestamp| {
        ready(store.create(&new(ns, at, 1_000), limits, Dedup::Never, at)).map(|_| ())
    };
    create("a", T0).expect("a");
    create("b", Timestamp::from_millis(T0.as_millis() + 500)).expect("b");
    // Both bounds exceeded: the namespace bound answers.
    assert!(matches!(
        create("a", T0),
        Err(CreateError::Capacity(Scope::Namespace))
    ));
    for ms in [1, 400, 999] {
        let at = Timestamp::from_millis(T0.as_millis() + ms);
        assert!(matches!(
            create("c", at),
            Err(CreateError::Capacity(Scope::Total))
        ));
    }
    // "a" expires at T0 + 1000 exactly.
    create("c", Timestamp::from_millis(T0.as_millis() + 1_000)).expect("room at the deadline");
    // "a" is still stored as open (nothing closed it), yet no longer counts.
    assert_eq!(store.open_count(), 3);
    assert!(matches!(
        create("d", Timestamp::from_millis(T0.as_millis() + 1_000)),
        Err(CreateError::Capacity(Scope::Total))
    ));
}

#[test]
fn zero_retention_hides_an_expired_record_at_its_deadline_and_purge_forgets_it() {
    let store = MemoryStore::<u32>::new().with_retention(Duration::ZERO);
    let r = new("a", T0, 10);
    let id = r.record().id;
    ready(store.create(&r, Limits::default(), Dedup::Never, T0)).expect("create");
    let before = Timestamp::from_millis(T0.as_millis() + 9);
    let at = Timestamp::from_millis(T0.as_millis() + 10);
    assert!(ready(store.get(id, before)).expect("get").is_some());
    assert!(ready(store.get(id, at)).expect("get").is_none());
    assert!(matches!(
        ready(store.complete(id, None, at, Wake::Now)),
        Err(TransitionError::NotFound)
    ));
    assert_eq!(ready(store.purge(at)).expect("purge"), 1);
    assert!(store.is_empty());
}

/// Three ids whose 64 folded bits are the same (the id index keeps two of them aside).
fn sharing_folded_bits() -> [PendingId; 3] {
    let base = [9, 1, 2, 3, 4, 5, 0x46, 8, 0x89, 9, 10, 11, 12, 13, 14, 16];
    [0u8, 1, 2].map(|bit| {
        let mut b = base;
        b[7] ^= bit;
        b[15] ^= bit;
        PendingId::from_bytes(b).expect("v4")
    })
}

#[test]
fn removing_records_in_any_order_keeps_the_indexes_right() {
    let store = MemoryStore::<u32>::new().with_retention(Duration::ZERO);
    let orders = [[0, 1, 2], [1, 0, 2], [2, 1, 0], [1, 2, 0]];
    for (order, shared) in orders.iter().flat_map(|o| [(*o, false), (*o, true)]) {
        let ids: Vec<PendingId> = (0..3)
            .map(|k| {
                let r = new("a", T0, 60_000);
                let r = if shared {
                    let mut r = r.into_record();
                    r.id = sharing_folded_bits()[k];
                    NewRecord::new(r)
                } else {
                    r
                };
                ready(store.create(&r, Limits::default(), Dedup::Never, T0)).expect("create");
                r.record().id
            })
            .collect();
        for (done, &i) in order.iter().enumerate() {
            let r = ready(store.complete(ids[i], None, T0, Wake::Now)).expect("complete");
            assert_eq!(r.id, ids[i]);
            for (k, id) in ids.iter().enumerate() {
                let gone = order[..=done].contains(&k);
                let got = ready(store.get(*id, T0)).expect("get");
                assert_eq!(got.is_none(), gone, "order {order:?}, step {done}, id {k}");
                if let Some(r) = got {
                    assert_eq!(r.id, *id);
                }
            }
        }
        assert!(store.is_empty());
        assert_eq!(store.open_count(), 0);
    }
}

fn keyed(ns: &str, now: Timestamp, ttl_ms: u64, alias: &str) -> NewRecord<u32> {
    NewRecord::new(Record::new(
        PendingId::random(),
        Namespace::new(ns).expect("namespace"),
        now,
        Timestamp::from_millis(now.as_millis() + ttl_ms),
        RecordState::Open,
        Arc::new(Body::new(7, Some(alias.into()), None, None)),
    ))
}

fn join(store: &MemoryStore<u32>, r: &NewRecord<u32>, now: Timestamp) -> Created<u32> {
    let dedup = Dedup::Join {
        decline_cooldown: Duration::from_secs(10),
    };
    let unbounded = Limits::new(usize::MAX, usize::MAX);
    ready(store.create(r, unbounded, dedup, now)).expect("create")
}

/// The dedup index follows records as removals move them within their namespace, skips
/// expired ones, and finds the latest decline after it moved.
#[test]
fn the_dedup_index_follows_moved_records() {
    let store = MemoryStore::<u32>::new().with_retention(Duration::ZERO);
    let (a, b, c) = (
        keyed("n", T0, 60_000, "x"),
        keyed("n", T0, 60_000, "y"),
        keyed("n", T0, 60_000, "x"),
    );
    for r in [&a, &b, &c] {
        ready(store.create(r, Limits::default(), Dedup::Never, T0)).expect("create");
    }
    let probe = keyed("n", T0, 60_000, "x");
    let Created::Joined(first) = join(&store, &probe, T0) else {
        panic!("no join")
    };
    assert!(first.id == a.record().id || first.id == c.record().id);
    // Completing `a` (zero retention) removes it and moves the last record into its place.
    ready(store.complete(a.record().id, None, T0, Wake::Now)).expect("complete");
    let Created::Joined(second) = join(&store, &probe, T0) else {
        panic!("no join")
    };
    assert_eq!(second.id, c.record().id);
    ready(store.complete(c.record().id, None, T0, Wake::Now)).expect("complete");
    assert!(matches!(join(&store, &probe, T0), Created::Inserted));
    // `y` joins `b`; once `b` expired, a create under `y` inserts.
    let y = keyed("n", T0, 60_000, "y");
    assert!(matches!(join(&store, &y, T0), Created::Joined(r) if r.id == b.record().id));
    let late = Timestamp::from_millis(T0.as_millis() + 60_000);
    assert!(matches!(join(&store, &y, late), Created::Inserted));

    // A decline moved by a purge still answers during its cooldown.
    let store = MemoryStore::<u32>::new().with_retention(Duration::from_secs(60));
    let gone = keyed("m", T0, 10, "old");
    let declined = keyed("m", T0, 60_000, "z");
    for r in [&gone, &declined] {
        ready(store.create(r, Limits::default(), Dedup::Never, T0)).expect("create");
    }
    let at = Timestamp::from_millis(T0.as_millis() + 20);
    ready(store.cancel(declined.record().id, CancelReason::Declined, None, at)).expect("decline");
    let purge_at = Timestamp::from_millis(T0.as_millis() + 60_010);
    assert_eq!(ready(store.purge(purge_at)).expect("purge"), 1);
    let z = keyed("m", T0, 60_000, "z");
    let within = Timestamp::from_millis(at.as_millis() + 9_999);
    assert!(matches!(
        join(&store, &z, within),
        Created::Declined(r) if r.id == declined.record().id
    ));
    let after = Timestamp::from_millis(at.as_millis() + 10_000);
    assert!(matches!(join(&store, &z, after), Created::Inserted));
}

/// A purge over more records than one chunk, across namespaces, forgets exactly the due
/// ones, and the indexes still find every record it kept.
#[tokio::test]
async fn a_purge_over_several_chunks_keeps_the_indexes_right() {
    let store = MemoryStore::<u32>::new().with_retention(Duration::ZERO);
    let mut kept = Vec::new();
    for i in 0..(3 * PURGE_CHUNK) {
        let ns = ["a", "b", "c"][i % 3];
        let short = i % 2 == 0;
        let r = keyed(ns, T0, if short { 10 } else { 60_000 }, ["x", "y"][i % 2]);
        let unbounded = Limits::new(usize::MAX, usize::MAX);
        ready(store.create(&r, unbounded, Dedup::Never, T0)).expect("create");
        if !short {
            kept.push(r.record().id);
        }
    }
    // Give the namespaces a dedup index before the purge moves their records.
    let probe = keyed("a", T0, 60_000, "y");
    assert!(matches!(join(&store, &probe, T0), Created::Joined(_)));
    let at = Timestamp::from_millis(T0.as_millis() + 10);
    assert_eq!(
        store.purge(at).await.expect("purge"),
        3 * PURGE_CHUNK - kept.len()
    );
    assert_eq!(store.len(), kept.len());
    for id in &kept {
        assert!(ready(store.get(*id, at)).expect("get").is_some());
    }
    let x = keyed("a", T0, 60_000, "x");
    assert!(matches!(join(&store, &x, at), Created::Inserted));
    assert!(matches!(join(&store, &probe, at), Created::Joined(r) if kept.contains(&r.id)));
}

/// A small deterministic generator (xorshift), so the sequences below repeat exactly.
struct Xorshift(u64);

impl Xorshift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

pub(super) fn at(ms: u64) -> Timestamp {
    Timestamp::from_millis(T0.as_millis() + ms)
}

/// The total count is exact at every `now`, whether it goes forward, back (a little or
/// far) or between the cursors, as deadlines come and go: against a plain list.
#[test]
fn the_total_count_is_exact_at_any_now() {
    let mut d = super::count::Deadlines::default();
    d.enabled = true;
    let mut model: Vec<Timestamp> = Vec::new();
    let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15);
    let mut now = 5_000;
    for step in 0..20_000 {
        match rng.below(10) {
            0..=3 => {
                let deadline = at(now + rng.below(3_000));
                d.add(deadline);
                model.push(deadline);
            }
            4..=5 if !model.is_empty() => {
                let i = usize::try_from(rng.below(model.len() as u64)).expect("index");
                d.remove(model.swap_remove(i));
            }
            _ => {
                now = match rng.below(6) {
                    // Mostly forward, some jitter back, some far jumps either way.
                    0..=2 => now + rng.below(50),
                    3 => now.saturating_sub(rng.below(20)),
                    4 => now.saturating_sub(rng.below(4_000)),
                    _ => now + rng.below(4_000),
                };
                let expected = model.iter().filter(|&&m| m > at(now)).count();
                assert_eq!(d.count(at(now)), expected, "step {step}, now {now}");
            }
        }
    }
}

/// Two clocks 1 s apart taking turns, over one deadline per millisecond: after the cursors
/// settle, a count steps over a few entries, not the thousand between the clocks (a single
/// cursor moved back and forth would step over 2,000 per round).
#[test]
fn two_clocks_apart_cost_a_constant_per_count() {
    let mut d = super::count::Deadlines::default();
    d.enabled = true;
    let entries = 100_000;
    for ms in 0..entries {
        d.add(at(ms));
    }
    let rounds = 2_000;
    for r in 0..rounds {
        for now in [50_000 + r, 51_000 + r] {
            assert_eq!(
                d.count(at(now)),
                usize::try_from(entries - 1 - now).expect("n")
            );
        }
    }
    let budget = 3 * entries + 10 * rounds;
    assert!(d.steps <= budget, "{} steps, budget {budget}", d.steps);
}
