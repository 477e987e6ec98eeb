//! Conformance cases that pin the lifecycle rules exactly: the scope of a capacity error,
//! expiry and cooldowns to the millisecond, and when a finished record stops being readable
//! (the retention window, and zero retention).

use std::time::Duration;

use oob::state::CancelReason;
use oob::store::{RecordState, Scope, Store};
use oob::time::Clock;
use oob::time::Timestamp;
use oob::{AnyPending, Error, Joined};

use super::{ConfManager, ManualClock, Opts, RETENTION, list_ids, manager_on, setup};
use crate::{DeviceCode, ns, spec, user};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn create_in<S: Store<DeviceCode>>(
    m: &ConfManager<S>,
    n: &str,
    ttl: Duration,
) -> Result<oob::PendingId, Error> {
    m.create(&user(n), spec().ttl(ttl)).await.map(|p| p.id())
}

/// A create that exceeds both bounds fails with the namespace scope; one that exceeds only
/// the total bound with the total scope; a refused create changes nothing.
pub async fn capacity_scope_is_the_namespace_when_both_bounds_are_exceeded<
    S: Store<DeviceCode> + Clone,
>(
    store: S,
) {
    let (m, _clock) = manager_on(
        store,
        Opts {
            per_namespace: 2,
            total: 3,
            ..Opts::default()
        },
    );
    let long = Duration::from_secs(600);
    create_in(&m, "a", long).await.expect("a1");
    create_in(&m, "a", long).await.expect("a2");
    create_in(&m, "b", long).await.expect("b1");
    for _ in 0..3 {
        assert!(matches!(
            create_in(&m, "a", long).await,
            Err(Error::Capacity(Scope::Namespace))
        ));
        assert!(matches!(
            m.create_or_join(&user("a"), spec().alias("new")).await,
            Err(Error::Capacity(Scope::Namespace))
        ));
        assert!(matches!(
            create_in(&m, "c", long).await,
            Err(Error::Capacity(Scope::Total))
        ));
    }
    assert_eq!(list_ids(&m, "a").await.len(), 2);
    assert!(list_ids(&m, "c").await.is_empty());
}

/// A pending is open up to the millisecond before its deadline and expired at it, for
/// reads, listing, transitions and dedup.
pub async fn expiry_is_exact_to_the_millisecond<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = setup(store.clone());
    let p = m
        .create(&user("a"), spec().alias("k").ttl(ms(250)))
        .await
        .expect("create");
    let id = p.id();
    clock.advance(ms(249));
    assert!(matches!(m.get(id).await, Ok(AnyPending::Open(_))));
    assert_eq!(list_ids(&m, "a").await.len(), 1);
    match m.create_or_join(&user("a"), spec().alias("k")).await {
        Ok(Joined::Joined(j)) => assert_eq!(j.id(), id),
        other => panic!("expected a join, got {other:?}"),
    }
    clock.advance(ms(1));
    let rec = store
        .get(id, clock.now())
        .await
        .expect("get")
        .expect("kept");
    assert!(matches!(rec.state, RecordState::Expired { .. }));
    assert!(matches!(m.get(id).await, Ok(AnyPending::Expired(_))));
    assert!(list_ids(&m, "a").await.is_empty());
    // A join at the deadline finds no open pending (asked before any transition below,
    // which would close the record on the way).
    let fresh = match m.create_or_join(&user("a"), spec().alias("k")).await {
        Ok(Joined::Created(c)) => c,
        other => panic!("expected a new pending, got {other:?}"),
    };
    assert_ne!(fresh.id(), id);
    // Expiry is answered by id and in its own namespace; another namespace learns only
    // that the id is not its own (`lifecycle::refusal`).
    assert!(matches!(
        m.complete_in(id, &ns("b")).await,
        Err(Error::NamespaceMismatch(_))
    ));
    assert!(matches!(
        m.cancel_id(id, CancelReason::Declined, Some(&ns("b")))
            .await,
        Err(Error::NamespaceMismatch(_))
    ));
    assert!(matches!(
        m.complete_in(id, &ns("a")).await,
        Err(Error::Expired(_))
    ));
    assert!(matches!(
        m.cancel_id(id, CancelReason::Declined, Some(&ns("a")))
            .await,
        Err(Error::Expired(_))
    ));
    assert!(matches!(m.complete_id(id).await, Err(Error::Expired(_))));
}

/// Both bounds free up the millisecond the pending holding them expires, however many
/// creates were refused before (no scan throttle), and only then.
pub async fn expired_pendings_free_capacity_at_the_millisecond<S: Store<DeviceCode> + Clone>(
    store: S,
) {
    let (m, clock) = manager_on(
        store,
        Opts {
            per_namespace: 1,
            total: 2,
            ..Opts::default()
        },
    );
    create_in(&m, "a", ms(1_000)).await.expect("a");
    create_in(&m, "b", ms(1_500)).await.expect("b");
    let refused_total = |r: Result<_, Error>| matches!(r, Err(Error::Capacity(Scope::Total)));
    for step in [0, 400, 599] {
        clock.advance(ms(step));
        assert!(
            refused_total(create_in(&m, "c", ms(5_000)).await),
            "c at +{step}"
        );
        assert!(matches!(
            create_in(&m, "a", ms(5_000)).await,
            Err(Error::Capacity(Scope::Namespace))
        ));
    }
    // +999: still one millisecond to go.
    assert!(refused_total(create_in(&m, "c", ms(5_000)).await));
    clock.advance(ms(1));
    // +1000: "a" expired at this instant.
    create_in(&m, "c", ms(5_000))
        .await
        .expect("room at the deadline");
    // "a" has room in its namespace, the store is full again ("b" and "c").
    assert!(refused_total(create_in(&m, "a", ms(5_000)).await));
    clock.advance(ms(499));
    assert!(refused_total(create_in(&m, "a", ms(5_000)).await));
    clock.advance(ms(1));
    create_in(&m, "a", ms(5_000))
        .await
        .expect("room when b expired");
}

/// With zero retention a finished pending is gone for every read as soon as the call that
/// finished it returns (no purge needed), and an expired one at its deadline.
pub async fn zero_retention_is_gone_when_the_call_returns<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = manager_on(
        store.clone(),
        Opts {
            cooldown: Duration::from_secs(60),
            ..Opts::default()
        },
    );
    for how in 0..3 {
        let p = m
            .create(&user("a"), spec().alias("z"))
            .await
            .expect("create");
        let id = p.id();
        match how {
            0 => drop(m.complete(p).await.expect("complete")),
            1 => drop(m.cancel(p).await.expect("cancel")),
            _ => drop(m.decline(p).await.expect("decline")),
        }
        assert!(
            store.get(id, clock.now()).await.expect("get").is_none(),
            "{how}"
        );
        assert!(matches!(m.get(id).await, Err(Error::NotFound(_))), "{how}");
        assert!(matches!(m.complete_id(id).await, Err(Error::NotFound(_))));
    }
    // A decline kept for no time answers no cooldown.
    assert!(matches!(
        m.create_or_join(&user("a"), spec().alias("z")).await,
        Ok(Joined::Created(_))
    ));
    let p = create_in(&m, "b", ms(100)).await.expect("create");
    clock.advance(ms(99));
    assert!(matches!(m.get(p).await, Ok(AnyPending::Open(_))));
    clock.advance(ms(1));
    assert!(store.get(p, clock.now()).await.expect("get").is_none());
    assert!(matches!(m.get(p).await, Err(Error::NotFound(_))));
    assert!(matches!(m.complete_id(p).await, Err(Error::NotFound(_))));
    assert!(list_ids(&m, "b").await.is_empty());
}

/// A finished or expired pending is readable until its retention window ends, to the
/// millisecond, and gone for every read from then on, purged or not; a decline answers
/// during its cooldown only while it is readable.
pub async fn reads_end_with_the_retention_window<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = manager_on(
        store.clone(),
        Opts {
            cooldown: RETENTION * 2,
            ..Opts::default()
        },
    );
    let done = m.create(&user("a"), spec()).await.expect("create").id();
    m.complete_id(done).await.expect("complete");
    let declined = m
        .create(&user("a"), spec().alias("d"))
        .await
        .expect("create");
    let declined_id = declined.id();
    m.decline(declined).await.expect("decline");
    let expires = create_in(&m, "a", ms(10)).await.expect("create");
    clock.advance(RETENTION - ms(1));
    assert!(matches!(m.get(done).await, Ok(AnyPending::Completed(_))));
    assert!(matches!(m.get(expires).await, Ok(AnyPending::Expired(_))));
    match m.create_or_join(&user("a"), spec().alias("d")).await {
        Ok(Joined::Declined(d)) => assert_eq!(d.id(), declined_id),
        other => panic!("expected the decline, got {other:?}"),
    }
    clock.advance(ms(1));
    assert!(store.get(done, clock.now()).await.expect("get").is_none());
    assert!(matches!(m.get(done).await, Err(Error::NotFound(_))));
    assert!(matches!(m.get(declined_id).await, Err(Error::NotFound(_))));
    assert!(matches!(
        m.create_or_join(&user("a"), spec().alias("d")).await,
        Ok(Joined::Created(_))
    ));
    // The expired one finished 10 ms later than the others.
    assert!(matches!(m.get(expires).await, Ok(AnyPending::Expired(_))));
    clock.advance(ms(10));
    assert!(matches!(m.get(expires).await, Err(Error::NotFound(_))));
}

/// Purge forgets a finished record a retention window after it finished (not after it was
/// created) and an expired one a window after its deadline, each at that millisecond and
/// not one before. (Found by mutation testing, 2026-12-07: SQLite's purge could count a
/// finished row from its creation, or an expired one a millisecond late, with every test
/// passing.)
pub async fn purge_forgets_at_the_millisecond_the_window_ends<S: Store<DeviceCode> + Clone>(
    store: S,
) {
    let (m, clock) = setup(store);
    let done = create_in(&m, "a", RETENTION * 2).await.expect("create");
    let expires = create_in(&m, "a", ms(250)).await.expect("create");
    clock.advance(ms(5_000));
    m.complete_id(done).await.expect("complete");
    // The expired one: its deadline (+250 ms) plus the window.
    clock.advance(RETENTION - ms(4_750) - ms(1));
    assert_eq!(m.purge().await.expect("purge"), 0);
    assert!(matches!(m.get(expires).await, Ok(AnyPending::Expired(_))));
    clock.advance(ms(1));
    assert_eq!(m.purge().await.expect("purge"), 1);
    assert!(matches!(m.get(expires).await, Err(Error::NotFound(_))));
    // The completed one: its finish (+5 s) plus the window, not its creation.
    assert!(matches!(m.get(done).await, Ok(AnyPending::Completed(_))));
    clock.advance(ms(4_750) - ms(1));
    assert_eq!(m.purge().await.expect("purge"), 0);
    assert!(matches!(m.get(done).await, Ok(AnyPending::Completed(_))));
    clock.advance(ms(1));
    assert_eq!(m.purge().await.expect("purge"), 1);
    assert!(matches!(m.get(done).await, Err(Error::NotFound(_))));
}

/// The decline cooldown ends to the millisecond, and of two declines with the same key the
/// later one answers.
pub async fn decline_cooldown_is_exact_and_the_latest_decline_answers<
    S: Store<DeviceCode> + Clone,
>(
    store: S,
) {
    let (m, clock): (ConfManager<S>, ManualClock) = manager_on(
        store,
        Opts {
            cooldown: ms(1_500),
            ..Opts::default()
        },
    );
    let first = m.create(&user("a"), spec().alias("gh")).await.expect("1");
    let second = m.create(&user("a"), spec().alias("gh")).await.expect("2");
    let second_id = second.id();
    m.decline(first).await.expect("decline 1");
    clock.advance(ms(10));
    m.decline(second).await.expect("decline 2");
    clock.advance(ms(1_489));
    // +1499: both cool down; the later one answers.
    match m.create_or_join(&user("a"), spec().alias("gh")).await {
        Ok(Joined::Declined(d)) => assert_eq!(d.id(), second_id),
        other => panic!("expected the latest decline, got {other:?}"),
    }
    clock.advance(ms(10));
    // +1509: the second one's last millisecond.
    match m.create_or_join(&user("a"), spec().alias("gh")).await {
        Ok(Joined::Declined(d)) => assert_eq!(d.id(), second_id),
        other => panic!("expected the decline, got {other:?}"),
    }
    clock.advance(ms(1));
    assert!(matches!(
        m.create_or_join(&user("a"), spec().alias("gh")).await,
        Ok(Joined::Created(_))
    ));
}

/// A deadline past what every store keeps exactly (a TTL of `Duration::MAX`) is
/// `Timestamp::LATEST_DEADLINE`, and reads back, completes and joins as that on every
/// store: the earliest of two deadlines 1 ms apart up there is the one joined.
pub async fn the_latest_deadline_is_kept_exactly<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = setup(store);
    let latest = Timestamp::LATEST_DEADLINE.to_system_time();
    let far = m
        .create(&user("a"), spec().alias("k").ttl(Duration::MAX))
        .await
        .expect("create");
    assert_eq!(far.expires_at(), latest);
    let earlier = m
        .create(&user("a"), spec().alias("k").deadline(latest - ms(1)))
        .await
        .expect("create");
    assert_eq!(earlier.expires_at(), latest - ms(1));
    match m.get(far.id()).await.expect("get") {
        AnyPending::Open(p) => assert_eq!(p.expires_at(), latest, "as stored"),
        other => panic!("expected it open, got {}", other.state_name()),
    }
    match m.create_or_join(&user("a"), spec().alias("k")).await {
        Ok(Joined::Joined(p)) => assert_eq!(p.id(), earlier.id(), "the earliest deadline"),
        other => panic!("expected a join, got {other:?}"),
    }
    let done = m.complete(far).await.expect("complete");
    assert_eq!(done.expires_at(), latest, "as the transition returns it");
}
