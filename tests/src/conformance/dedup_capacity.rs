//! Conformance cases: dedup, decline cooldowns and capacity bounds.

use super::*;

/// `create_or_join` joins an open pending with the same namespace, kind, alias and
/// resource, and nothing else.
pub async fn create_or_join_joins_the_same_key_only<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = setup(store);
    let key = || spec().alias("gh");
    let first = m
        .create_or_join(&user("a"), key())
        .await
        .expect("create")
        .into_open()
        .expect("open");
    let again = m.create_or_join(&user("a"), key()).await.expect("join");
    assert!(again.is_joined());
    assert_eq!(again.into_open().expect("open").id(), first.id());
    let other_alias = m
        .create_or_join(&user("a"), spec().alias("gl"))
        .await
        .expect("create");
    assert!(matches!(other_alias, Joined::Created(ref p) if p.id() != first.id()));
    let other_resource = m
        .create_or_join(
            &user("a"),
            Spec::new(device_code()).alias("gh").resource("x"),
        )
        .await
        .expect("create");
    assert!(matches!(other_resource, Joined::Created(_)));
    let other_ns = m.create_or_join(&user("b"), key()).await.expect("create");
    assert!(matches!(other_ns, Joined::Created(ref p) if p.namespace() == &ns("b")));
    // A plain create never joins.
    let plain = m.create(&user("a"), key()).await.expect("create");
    assert_ne!(plain.id(), first.id());
    // Once the joined one finishes, the other open one with the key is joined.
    m.complete(first).await.expect("complete");
    let after = m.create_or_join(&user("a"), key()).await.expect("join");
    assert!(matches!(after, Joined::Joined(ref p) if p.id() == plain.id()));
    m.cancel(plain).await.expect("cancel");
    // With none open, a new one is created.
    let new = m.create_or_join(&user("a"), key()).await.expect("create");
    assert!(matches!(new, Joined::Created(_)));
    // An expired one is not joined.
    clock.advance(Duration::from_secs(3_600));
    let fresh = m.create_or_join(&user("a"), key()).await.expect("create");
    assert!(matches!(fresh, Joined::Created(_)));
}

/// Of several open pendings with one key (plain creates make them), `create_or_join` joins
/// the one with the earliest deadline that has not passed: the rule of
/// `oob::store::lifecycle`, the same in every store.
pub async fn create_or_join_joins_the_earliest_deadline<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = setup(store);
    let key = |secs| spec().alias("gh").ttl(Duration::from_secs(secs));
    let a = m.create(&user("a"), key(600)).await.expect("create");
    let b = m.create(&user("a"), key(300)).await.expect("create");
    let c = m.create(&user("a"), key(900)).await.expect("create");
    let joined = |j: Joined<DeviceCode>| match j {
        Joined::Joined(p) => p.id(),
        other => panic!("expected a join, got {other:?}"),
    };
    let first = m.create_or_join(&user("a"), key(60)).await.expect("join");
    assert_eq!(joined(first), b.id(), "earliest deadline: 300 s");
    m.complete(b).await.expect("complete");
    let second = m.create_or_join(&user("a"), key(60)).await.expect("join");
    assert_eq!(joined(second), a.id(), "then 600 s");
    clock.advance(Duration::from_secs(601));
    let third = m.create_or_join(&user("a"), key(60)).await.expect("join");
    assert_eq!(joined(third), c.id(), "600 s has passed: 900 s");
    drop((a, c));
}

/// 100 concurrent `create_or_join` for one key leave exactly one open pending.
pub async fn concurrent_create_or_join_yields_one_pending<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = setup(store);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let m = m.clone();
            tokio::spawn(async move { m.create_or_join(&user("a"), spec().alias("gh")).await })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut created = 0;
    for t in tasks {
        let j = t.await.expect("join").expect("create_or_join");
        if matches!(j, Joined::Created(_)) {
            created += 1;
        }
        seen.insert(j.into_open().expect("open").id());
    }
    assert_eq!(created, 1);
    assert_eq!(seen.len(), 1);
    assert_eq!(list_ids(&m, "a").await, seen);
}

/// Within the cooldown after a decline, `create_or_join` answers with the decline; after
/// it, a new pending is created.
pub async fn decline_cooldown_answers_then_lapses<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = manager_on(
        store,
        Opts {
            cooldown: Duration::from_secs(60),
            ..Opts::default()
        },
    );
    let p = m
        .create_or_join(&user("a"), spec().alias("gh"))
        .await
        .expect("create")
        .into_open()
        .expect("open");
    let pid = p.id();
    m.decline(p).await.expect("decline");
    clock.advance(Duration::from_secs(30));
    match m
        .create_or_join(&user("a"), spec().alias("gh"))
        .await
        .expect("cooldown")
    {
        Joined::Declined(d) => assert_eq!(d.id(), pid),
        other => panic!("expected the decline, got {other:?}"),
    }
    // Other keys and namespaces are unaffected.
    assert!(matches!(
        m.create_or_join(&user("b"), spec().alias("gh")).await,
        Ok(Joined::Created(_))
    ));
    assert!(list_ids(&m, "a").await.is_empty());
    clock.advance(Duration::from_secs(31));
    assert!(matches!(
        m.create_or_join(&user("a"), spec().alias("gh")).await,
        Ok(Joined::Created(_))
    ));
    // A cancel (not a decline) has no cooldown.
    let q = m
        .create_or_join(&user("c"), spec().alias("gh"))
        .await
        .expect("create")
        .into_open()
        .expect("open");
    m.cancel(q).await.expect("cancel");
    assert!(matches!(
        m.create_or_join(&user("c"), spec().alias("gh")).await,
        Ok(Joined::Created(_))
    ));
}

/// Declines stamped by a clock ahead of the creating call's (another replica's, or this one
/// before NTP stepped it back): a zero cooldown never answers, and with a cooldown the
/// latest decline by its time answers, whichever was written last.
/// A cancel of another pending with the same key after a decline does not hide the
/// decline's cooldown: the latest decline answers, whatever was cancelled since. (Found by
/// mutation testing, 2026-12-07: SQLite's latest-decline query could drop its `declined`
/// filter with every test passing.)
pub async fn a_cancel_after_a_decline_keeps_its_cooldown<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = manager_on(
        store,
        Opts {
            cooldown: Duration::from_secs(60),
            ..Opts::default()
        },
    );
    let declined = m
        .create(&user("a"), spec().alias("gh"))
        .await
        .expect("create");
    let declined_id = declined.id();
    m.decline(declined).await.expect("decline");
    clock.advance(Duration::from_millis(10));
    // A plain create does not look for a decline; the service then cancels it.
    let cancelled = m
        .create(&user("a"), spec().alias("gh"))
        .await
        .expect("create");
    m.cancel(cancelled).await.expect("cancel");
    clock.advance(Duration::from_millis(10));
    match m.create_or_join(&user("a"), spec().alias("gh")).await {
        Ok(Joined::Declined(d)) => assert_eq!(d.id(), declined_id),
        other => panic!("expected the decline, got {other:?}"),
    }
}

pub async fn declines_from_a_clock_ahead_follow_the_rules<S: Store<DeviceCode> + Clone>(store: S) {
    let step = Duration::from_millis(100);
    // No cooldown: zero, or under the stores' millisecond.
    for (who, cooldown) in [("a", Duration::ZERO), ("c", Duration::from_micros(500))] {
        let (m, clock) = manager_on(
            store.clone(),
            Opts {
                cooldown,
                ..Opts::default()
            },
        );
        let p = m
            .create(&user(who), spec().alias("k"))
            .await
            .expect("create");
        clock.advance(step);
        m.decline(p).await.expect("decline");
        clock.back(step);
        assert!(
            matches!(
                m.create_or_join(&user(who), spec().alias("k")).await,
                Ok(Joined::Created(_))
            ),
            "a cooldown of {cooldown:?}: no decline answers"
        );
    }

    let (m, clock) = manager_on(
        store,
        Opts {
            cooldown: Duration::from_millis(500),
            ..Opts::default()
        },
    );
    let later = m
        .create(&user("b"), spec().alias("k"))
        .await
        .expect("create");
    let earlier = m
        .create(&user("b"), spec().alias("k"))
        .await
        .expect("create");
    let later_id = later.id();
    clock.advance(step);
    m.decline(later).await.expect("decline at +100 ms");
    clock.back(step);
    m.decline(earlier)
        .await
        .expect("decline at +0, written last");
    // +550 ms: the decline at +0 has lapsed, the one at +100 ms still answers.
    clock.advance(Duration::from_millis(550));
    match m.create_or_join(&user("b"), spec().alias("k")).await {
        Ok(Joined::Declined(d)) => assert_eq!(d.id(), later_id, "the latest by time"),
        other => panic!("expected the decline at +100 ms, got {other:?}"),
    }
}

/// The per-namespace bound refuses and leaves the store unchanged; other namespaces and
/// finished pendings are unaffected.
pub async fn capacity_per_namespace_leaves_store_unchanged<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = manager_on(
        store,
        Opts {
            per_namespace: 2,
            ..Opts::default()
        },
    );
    let a1 = m.create(&user("a"), spec()).await.expect("create");
    let a2 = m.create(&user("a"), spec()).await.expect("create");
    let before = list_ids(&m, "a").await;
    assert!(matches!(
        m.create(&user("a"), spec()).await,
        Err(Error::Capacity(Scope::Namespace))
    ));
    assert!(matches!(
        m.create_or_join(&user("a"), spec().alias("new")).await,
        Err(Error::Capacity(Scope::Namespace))
    ));
    assert_eq!(list_ids(&m, "a").await, before);
    // Joining an existing one needs no room.
    m.create(&user("b"), spec()).await.expect("other namespace");
    m.complete(a1).await.expect("complete");
    let a3 = m.create(&user("a"), spec()).await.expect("room again");
    assert_eq!(list_ids(&m, "a").await, HashSet::from([a2.id(), a3.id()]));
}

/// The total bound refuses and leaves the store unchanged.
pub async fn capacity_total_leaves_store_unchanged<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = manager_on(
        store,
        Opts {
            total: 3,
            ..Opts::default()
        },
    );
    let a = m.create(&user("a"), spec()).await.expect("create");
    m.create(&user("b"), spec()).await.expect("create");
    m.create(&user("c"), spec()).await.expect("create");
    assert!(matches!(
        m.create(&user("d"), spec()).await,
        Err(Error::Capacity(Scope::Total))
    ));
    assert!(list_ids(&m, "d").await.is_empty());
    for n in ["a", "b", "c"] {
        assert_eq!(list_ids(&m, n).await.len(), 1);
    }
    m.cancel(a).await.expect("cancel");
    m.create(&user("d"), spec()).await.expect("room again");
}

/// Expired pendings stop counting against both bounds.
pub async fn expired_pendings_do_not_count_against_capacity<S: Store<DeviceCode> + Clone>(
    store: S,
) {
    let (m, clock) = manager_on(
        store,
        Opts {
            per_namespace: 2,
            total: 3,
            ..Opts::default()
        },
    );
    let short = || spec().ttl(Duration::from_secs(5));
    m.create(&user("a"), short()).await.expect("create");
    m.create(&user("a"), short()).await.expect("create");
    m.create(&user("b"), short()).await.expect("create");
    assert!(matches!(
        m.create(&user("a"), spec()).await,
        Err(Error::Capacity(Scope::Namespace))
    ));
    assert!(matches!(
        m.create(&user("c"), spec()).await,
        Err(Error::Capacity(Scope::Total))
    ));
    clock.advance(Duration::from_secs(6));
    m.create(&user("a"), spec()).await.expect("namespace room");
    m.create(&user("a"), spec()).await.expect("namespace room");
    m.create(&user("c"), spec()).await.expect("total room");
}

/// Many concurrent creates never exceed the per-namespace bound.
pub async fn concurrent_creates_respect_capacity<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = manager_on(
        store,
        Opts {
            per_namespace: 7,
            ..Opts::default()
        },
    );
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let m = m.clone();
            tokio::spawn(async move { m.create(&user("a"), spec()).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.expect("join") {
            Ok(_) => ok += 1,
            Err(Error::Capacity(Scope::Namespace)) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!(ok, 7);
    assert_eq!(list_ids(&m, "a").await.len(), 7);
}
