use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use super::*;
use crate::store::{Body, Scope};

fn ready<F: Future>(f: F) -> F::Output {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("memory store future suspended"),
    }
}

fn new(ns: &str, now: Timestamp, ttl_ms: u64) -> NewRecord<u32> {
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

#[test]
fn removing_records_in_any_order_keeps_the_indexes_right() {
    let store = MemoryStore::<u32>::new().with_retention(Duration::ZERO);
    for order in [[0, 1, 2], [1, 0, 2], [2, 1, 0], [1, 2, 0]] {
        let ids: Vec<PendingId> = (0..3)
            .map(|_| {
                let r = new("a", T0, 60_000);
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
