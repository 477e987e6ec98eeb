//! A purge whose chunks other operations run between still forgets every record that was
//! due when it started (a create or a transition there moves records past its cursor).

use std::task::{Context, Poll, Waker};

use super::index_tests::check;
use super::purge::Cursor;
use super::tests::ready;
use super::*;
use crate::store::Body;

fn t(ms: u64) -> Timestamp {
    Timestamp::from_millis(1_000_000 + ms)
}

fn new(alias: Option<&str>, at: Timestamp) -> NewRecord<u32> {
    NewRecord::new(Record::new(
        PendingId::random(),
        Namespace::new("a").expect("namespace"),
        at,
        t(3_600_000),
        RecordState::Open,
        Arc::new(Body::new(7, alias.map(Into::into), None, None)),
    ))
}

const UNBOUNDED: Limits = Limits {
    per_namespace: usize::MAX,
    total: usize::MAX,
};

/// Runs `purge` at `now` for one chunk, then `between`, then to its end.
fn purge_around(store: &MemoryStore<u32>, now: Timestamp, between: impl FnOnce()) -> usize {
    let mut purge = Box::pin(store.purge(now));
    let cx = &mut Context::from_waker(Waker::noop());
    assert!(purge.as_mut().poll(cx).is_pending(), "more than one chunk");
    between();
    loop {
        if let Poll::Ready(n) = purge.as_mut().poll(cx) {
            return n.expect("purge");
        }
    }
}

/// Two declines of one key, both due; a create between chunks moves the older one past the
/// cursor. Both go, and the dedup index still describes the records.
#[test]
fn a_create_between_chunks_hides_no_due_decline_from_the_purge() {
    let store = MemoryStore::<u32>::new().with_retention(Duration::from_millis(40));
    let create = |r: &NewRecord<u32>, dedup, at| {
        assert!(matches!(
            ready(store.create(r, UNBOUNDED, dedup, at)),
            Ok(Created::Inserted)
        ));
    };
    let join = Dedup::Join {
        decline_cooldown: Duration::from_millis(1),
    };
    let (a, b, open) = (
        new(Some("x"), t(0)),
        new(Some("x"), t(0)),
        new(Some("x"), t(0)),
    );
    create(&a, join, t(0));
    create(&b, Dedup::Never, t(0));
    create(&open, Dedup::Never, t(0));
    let fillers: Vec<_> = (0..PURGE_CHUNK + 100).map(|_| new(None, t(0))).collect();
    for f in &fillers {
        create(f, Dedup::Never, t(0));
    }
    ready(store.cancel(a.record().id, CancelReason::Declined, None, t(1))).expect("decline");
    ready(store.cancel(b.record().id, CancelReason::Declined, None, t(2))).expect("decline");
    for f in &fillers {
        ready(store.complete(f.record().id, None, t(10), Wake::Now)).expect("complete");
    }
    // Each create moves the first finished record to the end: `a` ends up first of them.
    for _ in 0..=fillers.len() {
        create(&new(None, t(10)), Dedup::Never, t(10));
    }
    check(&store, t(10));
    let now = t(42);
    let purged = purge_around(&store, now, || create(&new(None, now), Dedup::Never, now));
    assert_eq!(purged, 2, "both declines");
    assert!(store.lock().slot(&a.record().id).is_none());
    check(&store, now);
}

/// With zero retention, completions whose waiters are never woken go a grace period after;
/// a create between chunks leaves none of them readable.
#[test]
fn with_zero_retention_no_unwoken_completion_outlives_the_purge() {
    let store = MemoryStore::<u32>::new().with_retention(Duration::ZERO);
    let ids: Vec<_> = (0..PURGE_CHUNK + 100)
        .map(|_| {
            let r = new(None, t(0));
            ready(store.create(&r, UNBOUNDED, Dedup::Never, t(0))).expect("create");
            r.record().id
        })
        .collect();
    for id in &ids {
        ready(store.complete(*id, None, t(0), Wake::Later)).expect("complete");
    }
    let at = t(u64::try_from(lifecycle::WAKE_GRACE.as_millis()).expect("ms"));
    let create = || {
        ready(store.create(&new(None, at), UNBOUNDED, Dedup::Never, at)).expect("create");
    };
    assert_eq!(purge_around(&store, at, create), ids.len());
    for id in &ids {
        assert!(ready(store.get(*id, at)).expect("get").is_none());
    }
    check(&store, at);
}

/// A purge dropped between chunks leaves no cursor behind: later moves note nothing, and
/// the next purge starts afresh.
#[test]
fn a_dropped_purge_leaves_no_cursor() {
    let store = MemoryStore::<u32>::new().with_retention(Duration::ZERO);
    for _ in 0..PURGE_CHUNK + 100 {
        let r = new(None, t(0));
        ready(store.create(&r, UNBOUNDED, Dedup::Never, t(0))).expect("create");
    }
    {
        let mut purge = Box::pin(store.purge(t(1)));
        let cx = &mut Context::from_waker(Waker::noop());
        assert!(purge.as_mut().poll(cx).is_pending());
        assert_eq!(store.lock().purging.len(), 1);
    }
    assert!(store.lock().purging.is_empty());
    assert_eq!(purge_around(&store, t(1), || {}), 0);
}

/// Zero retention, completions never woken, due after the grace period: between the chunks of
/// a purge, creates and completions keep moving a due record past its cursor and back. Each
/// due record is noted once, and the purge ends after a chunk or two more.
#[test]
fn traffic_between_chunks_does_not_keep_a_purge_from_ending() {
    let store = MemoryStore::<u32>::new().with_retention(Duration::ZERO);
    let n = PURGE_CHUNK + 100;
    for _ in 0..n {
        let r = new(None, t(0));
        ready(store.create(&r, UNBOUNDED, Dedup::Never, t(0))).expect("create");
        ready(store.complete(r.record().id, None, t(0), Wake::Later)).expect("complete");
    }
    let at = t(u64::try_from(lifecycle::WAKE_GRACE.as_millis()).expect("ms"));
    let mut purge = Box::pin(store.purge(at));
    let cx = &mut Context::from_waker(Waker::noop());
    let mut polls = 0;
    let purged = loop {
        polls += 1;
        if let Poll::Ready(n) = purge.as_mut().poll(cx) {
            break n.expect("purge");
        }
        assert!(polls < 5, "the purge goes on");
        for _ in 0..PURGE_CHUNK + 1_000 {
            let r = new(None, at);
            ready(store.create(&r, UNBOUNDED, Dedup::Never, at)).expect("create");
            ready(store.complete(r.record().id, None, at, Wake::Now)).expect("complete");
            let moved = store.lock().purging.first().map_or(0, Cursor::moved_len);
            assert!(moved <= n, "{moved} ids noted");
        }
    };
    assert_eq!(purged, n);
    assert!(store.is_empty());
}

/// A purge polled once and then left alone blocks no other purge, and what it notes stays
/// within the records due when it started.
#[test]
fn a_stalled_purge_blocks_no_other() {
    let store = MemoryStore::<u32>::new().with_retention(Duration::ZERO);
    let n = 2 * PURGE_CHUNK;
    for _ in 0..n {
        let r = new(None, t(0));
        ready(store.create(&r, UNBOUNDED, Dedup::Never, t(0))).expect("create");
        ready(store.complete(r.record().id, None, t(0), Wake::Later)).expect("complete");
    }
    let at = t(u64::try_from(lifecycle::WAKE_GRACE.as_millis()).expect("ms"));
    let mut stalled = Box::pin(store.purge(at));
    let cx = &mut Context::from_waker(Waker::noop());
    assert!(stalled.as_mut().poll(cx).is_pending());
    assert_eq!(purge_around(&store, at, || {}), n - PURGE_CHUNK);
    for _ in 0..10_000 {
        let r = new(None, at);
        ready(store.create(&r, UNBOUNDED, Dedup::Never, at)).expect("create");
        ready(store.complete(r.record().id, None, at, Wake::Now)).expect("complete");
    }
    assert_eq!(store.lock().purging.first().map(Cursor::moved_len), Some(0));
    drop(stalled);
    assert!(store.lock().purging.is_empty());
}

/// Records that finish between chunks, not due for the purge, are not noted (so what a purge
/// notes is bounded by the records due when it started, however long it is left alone).
#[test]
fn a_purge_notes_only_due_records() {
    let store = MemoryStore::<u32>::new().with_retention(Duration::from_secs(3_600));
    let ids: Vec<_> = (0..2 * PURGE_CHUNK)
        .map(|_| {
            let r = new(None, t(0));
            ready(store.create(&r, UNBOUNDED, Dedup::Never, t(0))).expect("create");
            r.record().id
        })
        .collect();
    let mut purge = Box::pin(store.purge(t(1)));
    let cx = &mut Context::from_waker(Waker::noop());
    assert!(purge.as_mut().poll(cx).is_pending());
    // Each completion moves a record the purge has not looked at to where it has.
    for id in &ids[..PURGE_CHUNK] {
        ready(store.complete(*id, None, t(1), Wake::Now)).expect("complete");
    }
    assert_eq!(store.lock().purging.first().map(Cursor::moved_len), Some(0));
    drop(purge);
}
