//! The sweep at the namespace bound: it closes expired records by deadline (the
//! namespace's [`DueQueue`](super::due::DueQueue)), whose entries stay near the open
//! records and never close a record they do not name.

use super::tests::{at, new, ready};
use super::*;
use crate::store::Scope;

/// Namespace `a`'s deadline queue (its length, if it has one) and its open records.
fn queued(store: &MemoryStore<u32>) -> (Option<usize>, usize) {
    let table = store.lock();
    let n = table.by_ns.get(&Namespace::new("a").expect("namespace"));
    let ns = table.ns[*n.expect("namespace") as usize]
        .as_ref()
        .expect("namespace");
    (
        ns.open.due.as_ref().map(super::due::DueQueue::len),
        ns.open.n,
    )
}

/// At its bound, a namespace where one pending expires per millisecond takes a create each
/// millisecond (the sweep closes the expired one, found by deadline); pendings that finish
/// before their deadline do not pile up in the deadline queue.
#[test]
fn a_sweep_at_the_bound_closes_by_deadline_and_its_queue_stays_small() {
    let store = MemoryStore::<u32>::new();
    let bound = 50;
    let limits = Limits::new(bound, usize::MAX);
    let create = |ms| {
        let r = new("a", at(ms), 50);
        ready(store.create(&r, limits, Dedup::Never, at(ms))).map(|_| r.record().id)
    };
    for ms in 0..50 {
        create(ms).expect("fill");
    }
    // Full: the first expires at 50.
    assert!(matches!(
        create(49),
        Err(CreateError::Capacity(Scope::Namespace))
    ));
    for ms in 50..500 {
        create(ms).expect("one expired each millisecond");
        assert!(matches!(
            create(ms),
            Err(CreateError::Capacity(Scope::Namespace))
        ));
    }
    assert!(queued(&store).0.is_some_and(|len| len <= 2 * bound + 65));
    // Pendings completed before their deadline, no sweep needed: the queue stays near the
    // open records.
    for ms in 500..5_000 {
        let id = create(ms).expect("room");
        let (len, open) = queued(&store);
        assert!(
            len.is_none_or(|len| len <= 2 * open + 65),
            "{len:?} for {open}"
        );
        ready(store.complete(id, None, at(ms), Wake::Now)).expect("complete");
    }
}

/// The deadline queue keeps an entry of a record that went (here: completed with zero
/// retention); a new record under the same id, with a later deadline, is not closed by it.
#[test]
fn a_stale_queue_entry_closes_no_newer_record_with_its_id() {
    let store = MemoryStore::<u32>::new().with_retention(Duration::ZERO);
    let limits = Limits::new(2, usize::MAX);
    let with_id = |id, ms, ttl| {
        let mut r = new("a", at(ms), ttl).into_record();
        r.id = id;
        let r = NewRecord::new(r);
        ready(store.create(&r, limits, Dedup::Never, at(ms))).map(|_| ())
    };
    let [w, x, y, z] = [(); 4].map(|()| PendingId::random());
    with_id(w, 0, 5).expect("w");
    with_id(x, 0, 100).expect("x");
    // At the bound with w expired: the sweep builds the queue (w and x), closes w.
    with_id(y, 5, 1_000).expect("y");
    // x goes at once (zero retention); its entry (due at 100) stays queued.
    ready(store.complete(x, None, at(6), Wake::Now)).expect("complete x");
    with_id(x, 7, 2_000).expect("x again, due at 2,007");
    // At 100 the stale entry comes up: the new x is not closed by it, so no room.
    assert!(matches!(
        with_id(z, 100, 1_000),
        Err(CreateError::Capacity(Scope::Namespace))
    ));
    assert!(
        ready(store.get(x, at(100)))
            .expect("get")
            .is_some_and(|r| r.state.is_open())
    );
}

/// After a burst at the bound went (cancelled, then purged), the purge drops the namespace's
/// deadline queue, which held an entry per record of the burst.
#[test]
fn a_purge_drops_a_deadline_queue_left_by_a_burst() {
    let store = MemoryStore::<u32>::new().with_retention(Duration::ZERO);
    let limits = Limits::new(1_000, usize::MAX);
    let create = |ttl| {
        let r = new("a", at(0), ttl);
        ready(store.create(&r, limits, Dedup::Never, at(0))).expect("create");
        r.record().id
    };
    create(1);
    let ids: Vec<_> = (1..1_000).map(|_| create(60_000)).collect();
    // At the bound with the first one expired: the sweep builds the queue.
    let r = new("a", at(1), 60_000);
    ready(store.create(&r, limits, Dedup::Never, at(1))).expect("room");
    for id in &ids {
        ready(store.cancel(*id, CancelReason::Cancelled, None, at(2))).expect("cancel");
    }
    assert!(queued(&store).0.is_some_and(|len| len >= 1_000));
    // The cancelled ones went at once (zero retention); the purge takes the expired first.
    let mut purge = Box::pin(store.purge(at(3)));
    let cx = &mut std::task::Context::from_waker(std::task::Waker::noop());
    while purge.as_mut().poll(cx).is_pending() {}
    assert_eq!(queued(&store).0, None);
    assert_eq!(store.len(), 1);
}
