//! Conformance cases: waiters, deferred wake-ups, payloads and zero-retention readers.

use super::*;

/// A waiter on one task is woken by a completion on another.
pub async fn waiter_is_woken_by_complete_on_another_task<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = setup(store);
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id();
    let waiters: Vec<_> = (0..3)
        .map(|_| spawn_wait(&m, id, Duration::from_secs(30)))
        .collect();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let completer = tokio::spawn({
        let m = m.clone();
        async move { m.complete_id(id).await }
    });
    completer.await.expect("join").expect("complete");
    for w in waiters {
        match w.await.expect("join").expect("wait") {
            Outcome::Completed(done) => {
                assert_eq!(done.id(), id);
                assert_eq!(done.namespace(), &ns("a"));
            }
            other => panic!("expected completed, got {other:?}"),
        }
    }
}

/// Waiters get the typed outcome of a cancel and of a decline.
pub async fn waiter_is_woken_with_cancel_and_decline<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = setup(store);
    let c = m.create(&user("a"), spec()).await.expect("create");
    let d = m.create(&user("a"), spec()).await.expect("create");
    let (cid, did) = (c.id(), d.id());
    let wc = spawn_wait(&m, cid, Duration::from_secs(30));
    let wd = spawn_wait(&m, did, Duration::from_secs(30));
    tokio::time::sleep(Duration::from_millis(20)).await;
    m.cancel(c).await.expect("cancel");
    m.decline(d).await.expect("decline");
    assert!(matches!(
        wc.await.expect("join").expect("wait"),
        Outcome::Cancelled(p) if p.id() == cid && !p.is_declined()
    ));
    assert!(matches!(
        wd.await.expect("join").expect("wait"),
        Outcome::Declined(p) if p.id() == did && p.is_declined()
    ));
}

/// A waiter that starts after the outcome gets it at once (within retention).
pub async fn waiter_after_the_outcome_gets_it<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = setup(store);
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id();
    m.complete(p).await.expect("complete");
    assert!(matches!(
        m.wait(id, Duration::from_secs(30)).await.expect("wait"),
        Outcome::Completed(p) if p.id() == id
    ));
    assert!(matches!(
        m.wait(PendingId::random(), Duration::from_secs(30)).await,
        Err(Error::NotFound(_))
    ));
}

/// A waiter sees the pending expire: it re-reads at the deadline (200 ms of real time),
/// by which the manager clock has passed it.
pub async fn waiter_sees_expiry<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = setup(store);
    let p = m
        .create(&user("a"), spec().ttl(Duration::from_millis(200)))
        .await
        .expect("create");
    let id = p.id();
    let waiter = spawn_wait(&m, id, Duration::from_secs(30));
    tokio::time::sleep(Duration::from_millis(50)).await;
    clock.advance(Duration::from_secs(1));
    assert!(matches!(
        waiter.await.expect("join").expect("wait"),
        Outcome::Expired(p) if p.id() == id
    ));
    assert!(matches!(m.get(id).await, Ok(AnyPending::Expired(_))));
}

/// Clearing the namespace of a waited-on pending ends the wait with `Removed`.
pub async fn waiter_sees_removal_by_clear<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = setup(store);
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id();
    let waiter = spawn_wait(&m, id, Duration::from_secs(30));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(m.clear(&user("a")).await.expect("clear"), 1);
    match waiter.await.expect("join") {
        Ok(Outcome::Removed(x)) => assert_eq!(x, id),
        // The waiter had not read the record yet when it was cleared.
        Err(Error::NotFound(x)) => assert_eq!(x, id),
        other => panic!("expected removed, got {other:?}"),
    }
}

/// `complete_with` persists what it obtained before any waiter wakes.
pub async fn complete_with_persists_before_waking<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = setup(store);
    let vault = MemoryVault::<String>::new();
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id();
    let waiter = tokio::spawn({
        let m = m.clone();
        let vault = vault.clone();
        async move {
            let out = m.wait(id, Duration::from_secs(30)).await;
            let alice = user("a");
            let token = m.caller(&alice).expect("caller");
            let found = vault.get(&token, "token").await.expect("vault");
            (out, found)
        }
    });
    tokio::time::sleep(Duration::from_millis(20)).await;
    let writer = vault.clone();
    let (done, ()) = m
        .complete_with(p, async move |token| {
            // Give an early wake-up every chance to show.
            tokio::time::sleep(Duration::from_millis(50)).await;
            writer.put(&token, "token", "s3cret".into()).await
        })
        .await
        .expect("complete_with");
    assert_eq!(done.id(), id);
    let (out, found) = waiter.await.expect("join");
    assert!(matches!(out.expect("wait"), Outcome::Completed(_)));
    assert_eq!(found.as_deref(), Some("s3cret"));
    // The loser of a race does not persist.
    let again = m.complete_id(id).await;
    assert!(matches!(again, Err(Error::Finished { .. })));
}

/// At the store level: a `Wake::Later` completion is visible to reads at once, and
/// `wake` then releases the waiters with the completed record.
pub async fn store_wake_later_holds_waiters<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = setup(store.clone());
    let now = clock.now();
    let r = m.create(&user("a"), spec()).await.expect("create");
    let mut sub = store.subscribe(r.id()).await.expect("subscribe");
    assert_eq!(sub.id(), r.id());
    let done = store
        .complete(r.id(), Some(&ns("a")), now, Wake::Later)
        .await
        .expect("complete");
    assert_eq!(done.state, RecordState::Completed { at: now });
    // Not woken with the record by the transition itself.
    assert!(sub.try_changed().is_none());
    let read = store.get(r.id(), now).await.expect("get").expect("present");
    assert_eq!(read.state, RecordState::Completed { at: now });
    store.wake(&done).await.expect("wake");
    let woken = async {
        loop {
            // A store may deliver a bare change before the one with the record; re-read then.
            match sub.changed().await {
                Some(rec) => {
                    assert_eq!(rec.id, r.id());
                    assert_eq!(rec.state, RecordState::Completed { at: now });
                    break;
                }
                None => {
                    let rec = store.get(r.id(), now).await.expect("get").expect("present");
                    if rec.state == (RecordState::Completed { at: now }) {
                        break;
                    }
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), woken)
        .await
        .expect("wake() must release the waiters");
}

/// Payloads and labels with non-ASCII text come back byte for byte.
pub async fn payload_and_labels_survive_unicode<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = setup(store.clone());
    let data = DeviceCode {
        verify_url: "https://ex.com/device?q=\"quoted\"&x='y'".into(),
        user_code: "ÄÖÜ-ß-日本-🦀".into(),
        message: "line one\nline two\t\u{0}end".into(),
    };
    let p = m
        .create(
            &user("ünïcode"),
            Spec::new(data.clone())
                .alias("ålias 🦀")
                .resource("résource")
                .elicit_id("id'; DROP TABLE x; --"),
        )
        .await
        .expect("create");
    let r = store
        .get(p.id(), clock.now())
        .await
        .expect("get")
        .expect("present");
    assert_eq!(r.body.data(), &data);
    assert_eq!(r.body.alias(), Some("ålias 🦀"));
    assert_eq!(r.body.resource(), Some("résource"));
    assert_eq!(r.body.elicit_id(), Some("id'; DROP TABLE x; --"));
    assert_eq!(r.namespace, ns("ünïcode"));
    let caller = user("ünïcode");
    let token = m.caller(&caller).expect("caller");
    let listed = store
        .list_namespace(token.scope(), clock.now())
        .await
        .expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].body.data(), &data);
    let none = Spec::new(device_code());
    let q = m.create(&user("x"), none).await.expect("create");
    let r = store
        .get(q.id(), clock.now())
        .await
        .expect("get")
        .expect("present");
    assert_eq!(r.body.alias(), None);
    assert_eq!(r.body.resource(), None);
    assert_eq!(r.body.elicit_id(), None);
}

/// Zero retention, racing: a reader that subscribed to an id, then reads it while another
/// task completes or cancels it, finds either the record or the transition's event carrying
/// it; never neither (a waiter would report `NotFound` for a pending that just completed).
pub async fn zero_retention_readers_see_the_record_or_its_event<S: Store<DeviceCode> + Clone>(
    store: S,
) {
    let (m, clock) = setup(store.clone());
    for i in 0..300 {
        let p = m.create(&user("a"), spec()).await.expect("create");
        let id = p.id();
        let mut sub = store.subscribe(id).await.expect("subscribe");
        let finisher = tokio::spawn({
            let m = m.clone();
            async move {
                if i % 2 == 0 {
                    m.complete(p).await.map(|_| ())
                } else {
                    m.decline(p).await.map(|_| ())
                }
            }
        });
        for _ in 0..(i % 7) {
            tokio::task::yield_now().await;
        }
        let read = store.get(id, clock.now()).await.expect("get");
        if read.is_none() {
            let event = sub.try_changed();
            assert!(
                event
                    .as_ref()
                    .is_some_and(|r| r.id == id && !r.state.is_open()),
                "iteration {i}: the record is gone but its event is not there"
            );
        }
        finisher.await.expect("join").expect("finish");
    }
}
