//! Conformance cases: create, read, transitions, list and clear.

use super::*;

use crate::delegate::{Delegate, Overrides};

/// What the second attempt of a [`CreateTwice`] store answered.
type SecondCreate = Arc<Mutex<Option<Result<Created<DeviceCode>, CreateError>>>>;

/// Inserts every new record the manager hands the store twice: the first answer goes back
/// to the manager, the second (the store's answer to a duplicate id) is kept for the case to
/// inspect. Only the manager makes a [`NewRecord`], so this is how a test makes a store see
/// the same id twice. Every other method delegates.
struct CreateTwice(SecondCreate);

impl<S: Store<DeviceCode>> Overrides<DeviceCode, S> for CreateTwice {
    async fn create(
        &self,
        inner: &S,
        new: &NewRecord<DeviceCode>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> Result<Created<DeviceCode>, CreateError> {
        let first = inner.create(new, limits, dedup, now).await;
        let second = inner.create(new, limits, dedup, now).await;
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(second);
        first
    }
}

/// Create, then read back through the store and the manager: every field survives.
pub async fn create_then_get_round_trips<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = setup(store.clone());
    let p = m
        .create(
            &user("alice"),
            spec()
                .alias("gh")
                .elicit_id("el-1")
                .ttl(Duration::from_secs(60)),
        )
        .await
        .expect("create");
    let r = store
        .get(p.id(), clock.now())
        .await
        .expect("get")
        .expect("present");
    assert_eq!(r.id, p.id());
    assert_eq!(r.namespace, ns("alice"));
    assert_eq!(r.state, RecordState::Open);
    assert_eq!(r.created_at, clock.now());
    assert_eq!(
        r.expires_at,
        clock.now().saturating_add(Duration::from_secs(60))
    );
    assert_eq!(r.body.data(), &device_code());
    assert_eq!(r.body.alias(), Some("gh"));
    assert_eq!(r.body.resource(), Some("example.com"));
    assert_eq!(r.body.elicit_id(), Some("el-1"));
    match m.get(p.id()).await.expect("get") {
        AnyPending::Open(o) => {
            assert_eq!(o.namespace(), &ns("alice"));
            assert_eq!(o.data(), &device_code());
            assert_eq!(o.kind(), "device_code");
        }
        other => panic!("expected open, got {other:?}"),
    }
    assert_eq!(m.open(p.id()).await.expect("open").id(), p.id());
}

/// A second create of the same id inserts nothing: the store refuses it with
/// `DuplicateId` and keeps the first record, once.
pub async fn create_refuses_a_duplicate_id<S: Store<DeviceCode> + Clone>(store: S) {
    let second = SecondCreate::default();
    let (m, clock) = setup(Delegate::new(
        store.clone(),
        CreateTwice(Arc::clone(&second)),
    ));
    let p = m.create(&user("a"), spec()).await.expect("create");
    let again = second
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
        .expect("the store saw the record twice");
    assert!(matches!(again, Err(CreateError::DuplicateId)), "{again:?}");
    let got = store
        .get(p.id(), clock.now())
        .await
        .expect("get")
        .expect("present");
    assert_eq!(got.namespace, ns("a"));
    assert_eq!(got.state, RecordState::Open);
    assert_eq!(list_ids(&m, "a").await, HashSet::from([p.id()]));
    // The same holds for a record that `create_or_join` hands over.
    let q = m
        .create_or_join(&user("b"), spec().alias("gh"))
        .await
        .expect("create_or_join");
    assert!(matches!(q, Joined::Created(_)), "{q:?}");
    let qid = q.into_open().expect("open").id();
    let again = second
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
        .expect("the store saw the record twice");
    match again {
        // Refused as a duplicate, or joined to the very record it already holds.
        Err(CreateError::DuplicateId) => {}
        Ok(Created::Joined(r)) => assert_eq!(r.id, qid),
        other => panic!("expected DuplicateId or a join of {qid}, got {other:?}"),
    }
    assert_eq!(list_ids(&m, "b").await, HashSet::from([qid]));
}

/// Unknown ids read as `None` / not found.
pub async fn get_unknown_is_none<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = setup(store.clone());
    let id = PendingId::random();
    assert!(store.get(id, clock.now()).await.expect("get").is_none());
    assert!(matches!(m.get(id).await, Err(Error::NotFound(x)) if x == id));
    assert!(matches!(m.open(id).await, Err(Error::NotFound(_))));
}

/// Complete succeeds once; every later transition reports the completion.
pub async fn complete_is_single_and_final<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = setup(store.clone());
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id();
    clock.advance(Duration::from_secs(1));
    let done = m.complete(p).await.expect("complete");
    assert_eq!(done.id(), id);
    assert_eq!(done.namespace(), &ns("a"));
    assert_eq!(done.state().at(), clock.now());
    assert_eq!(done.data(), &device_code());
    assert_eq!(
        finished(&m.complete_id(id).await),
        Some(Finished::Completed)
    );
    assert_eq!(
        finished(&m.cancel_id(id, CancelReason::Cancelled, None).await),
        Some(Finished::Completed)
    );
    let r = store
        .get(id, clock.now())
        .await
        .expect("get")
        .expect("present");
    assert_eq!(r.state, RecordState::Completed { at: clock.now() });
    assert!(matches!(m.get(id).await, Ok(AnyPending::Completed(_))));
    assert_eq!(finished(&m.open(id).await), Some(Finished::Completed));
}

/// Cancel and decline are recorded with their reason and are final.
pub async fn cancel_and_decline_are_final<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, clock) = setup(store.clone());
    let c = m.create(&user("a"), spec()).await.expect("create");
    let d = m.create(&user("a"), spec()).await.expect("create");
    let (cid, did) = (c.id(), d.id());
    let cancelled = m.cancel(c).await.expect("cancel");
    assert!(!cancelled.is_declined());
    let declined = m.decline(d).await.expect("decline");
    assert!(declined.is_declined());
    assert_eq!(
        finished(&m.complete_id(cid).await),
        Some(Finished::Cancelled)
    );
    assert_eq!(
        finished(&m.complete_id(did).await),
        Some(Finished::Declined)
    );
    assert_eq!(
        finished(&m.cancel_id(did, CancelReason::Cancelled, None).await),
        Some(Finished::Declined)
    );
    let r = store
        .get(did, clock.now())
        .await
        .expect("get")
        .expect("present");
    assert_eq!(
        r.state,
        RecordState::Cancelled {
            at: clock.now(),
            reason: CancelReason::Declined
        }
    );
    assert!(list_ids(&m, "a").await.is_empty());
    // At the store level too: a finished record is not listed, and refuses a transition
    // with how it finished.
    let alice = user("a");
    let token = m.caller(&alice).expect("caller");
    assert!(
        store
            .list_namespace(token.scope(), clock.now())
            .await
            .expect("list")
            .is_empty()
    );
    let again = store.complete(did, None, clock.now(), Wake::Now).await;
    assert!(
        matches!(again, Err(TransitionError::Finished(Finished::Declined))),
        "{again:?}"
    );
}

/// Transitions of ids the store never saw are `NotFound`.
pub async fn transitions_of_unknown_ids_are_not_found<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = setup(store);
    let id = PendingId::random();
    assert!(matches!(m.complete_id(id).await, Err(Error::NotFound(_))));
    assert!(matches!(
        m.complete_in(id, &ns("a")).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        m.cancel_id(id, CancelReason::Declined, None).await,
        Err(Error::NotFound(_))
    ));
}

/// `list_namespace` returns exactly the open, unexpired records of that namespace.
pub async fn list_namespace_returns_open_only<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = setup(store);
    let a1 = m.create(&user("a"), spec()).await.expect("create");
    let a2 = m.create(&user("a"), spec()).await.expect("create");
    let a3 = m.create(&user("a"), spec()).await.expect("create");
    let b1 = m.create(&user("b"), spec()).await.expect("create");
    let keep = a3.id();
    let b1id = b1.id();
    m.complete(a1).await.expect("complete");
    m.cancel(a2).await.expect("cancel");
    assert_eq!(list_ids(&m, "a").await, HashSet::from([keep]));
    assert_eq!(list_ids(&m, "b").await, HashSet::from([b1id]));
    assert!(list_ids(&m, "nobody").await.is_empty());
}

/// Clearing a namespace removes all its records, open or finished, and nothing else.
pub async fn clear_namespace_touches_no_other_namespace<S: Store<DeviceCode> + Clone>(store: S) {
    let (m, _clock) = setup(store);
    let open_a = m.create(&user("a"), spec()).await.expect("create");
    let done_a = m.create(&user("a"), spec()).await.expect("create");
    let done_a_id = done_a.id();
    m.complete(done_a).await.expect("complete");
    let open_b = m.create(&user("b"), spec()).await.expect("create");
    let done_b = m.create(&user("b"), spec()).await.expect("create");
    let done_b_id = done_b.id();
    m.decline(done_b).await.expect("decline");

    assert_eq!(m.clear(&user("a")).await.expect("clear"), 2);
    assert!(matches!(m.get(open_a.id()).await, Err(Error::NotFound(_))));
    assert!(matches!(m.get(done_a_id).await, Err(Error::NotFound(_))));
    assert!(matches!(
        m.complete_id(open_a.id()).await,
        Err(Error::NotFound(_))
    ));
    assert!(list_ids(&m, "a").await.is_empty());
    assert_eq!(list_ids(&m, "b").await, HashSet::from([open_b.id()]));
    assert!(matches!(
        m.get(done_b_id).await,
        Ok(AnyPending::Cancelled(_))
    ));
    assert_eq!(m.clear(&user("a")).await.expect("clear again"), 0);
    m.complete(open_b).await.expect("b still completes");
}
