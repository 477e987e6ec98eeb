//! Conformance cases for what a store's counts and listing say after a clear, a create
//! that makes room at the bound, a deadline, and a transition from a clock ahead (each
//! added for a backend change that no other case noticed, found by mutation testing).

use std::time::Duration;

use oob::store::{Store, Wake};
use oob::time::Clock;
use oob::{AnyPending, Error};

use super::{Opts, manager_on};
use crate::{DeviceCode, spec, user};

/// At the store level, `list_namespace` lists the open, unexpired records: at a record's
/// deadline (the millisecond it expires) it lists nothing.
pub async fn list_namespace_ends_at_the_deadline<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = manager_on(store.clone(), Opts::default());
    m.create(&user("a"), spec().ttl(Duration::from_millis(250)))
        .await
        .expect("create");
    let alice = user("a");
    let token = m.caller(&alice).expect("caller");
    clock.advance(Duration::from_millis(249));
    let listed = store.list_namespace(token.scope(), clock.now()).await;
    assert_eq!(listed.expect("list").len(), 1);
    clock.advance(Duration::from_millis(1));
    let listed = store.list_namespace(token.scope(), clock.now()).await;
    assert!(listed.expect("list").is_empty(), "listed at its deadline");
}

/// A record completed by a replica whose clock is ahead (its finish time after this
/// replica's `now`) is finished for this replica too: `list_namespace` does not list it.
pub async fn a_record_finished_by_a_clock_ahead_is_not_listed<S: Store<DeviceCode> + Clone>(
    store: S,
) {
    let (m, clock) = manager_on(store.clone(), Opts::default());
    let p = m.create(&user("a"), spec()).await.expect("create");
    let ahead = clock.now().saturating_add(Duration::from_secs(1));
    store
        .complete(p.id(), None, ahead, Wake::Now)
        .await
        .expect("complete from a clock ahead");
    let alice = user("a");
    let token = m.caller(&alice).expect("caller");
    let listed = store
        .list_namespace(token.scope(), clock.now())
        .await
        .expect("list");
    let states: Vec<_> = listed.iter().map(|r| r.state).collect();
    assert!(states.is_empty(), "listed a finished record: {states:?}");
}

/// A clear gives both bounds their room back: the open records it removed stop counting
/// in their namespace and in the store's total.
pub async fn a_clear_gives_both_bounds_their_room_back<S: Store<DeviceCode> + Clone>(store: S) {
    let opts = Opts {
        per_namespace: 2,
        total: 2,
        ..Opts::default()
    };
    let (m, _clock) = manager_on(store, opts);
    for _ in 0..2 {
        m.create(&user("a"), spec()).await.expect("create");
    }
    assert!(matches!(
        m.create(&user("b"), spec()).await,
        Err(Error::Capacity(_))
    ));
    assert_eq!(m.clear(&user("a")).await.expect("clear"), 2);
    for i in 0..2 {
        m.create(&user("a"), spec())
            .await
            .unwrap_or_else(|e| panic!("create {i} after the clear: {e:?}"));
    }
}

/// A create at the namespace bound that makes room by closing an expired record leaves
/// the namespace's finished records as they finished: a completed one still reads
/// completed (not expired, with its retention counted from its deadline).
pub async fn a_create_at_the_bound_keeps_finished_outcomes<S: Store<DeviceCode> + Clone>(store: S) {
    let opts = Opts {
        per_namespace: 1,
        ..Opts::default()
    };
    let (m, clock) = manager_on(store, opts);
    let ttl = || spec().ttl(Duration::from_secs(5));
    let done = m.create(&user("a"), ttl()).await.expect("create");
    let done_id = done.id();
    m.complete(done).await.expect("complete");
    m.create(&user("a"), ttl()).await.expect("create");
    clock.advance(Duration::from_secs(6));
    m.create(&user("a"), spec())
        .await
        .expect("room at the bound");
    let read = m.get(done_id).await;
    assert!(
        matches!(read, Ok(AnyPending::Completed(_))),
        "the completed record now reads {:?}",
        read.map(|p| p.state_name())
    );
}
