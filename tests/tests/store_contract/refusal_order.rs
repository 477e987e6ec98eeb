//! A custom store that tells how a record ended before it compares the namespace (against
//! `lifecycle::refusal`'s order): the manager passes that on only to a caller in the
//! record's namespace. Another namespace gets `NamespaceMismatch`, as from the built-in
//! stores, after as many reads of an open record as of a finished one; the owner still
//! learns how it ended; a read that answers another record hands out nothing, there and
//! in the manager's own reads (`get`, `open`, `wait`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use oob::state::CancelReason;
use oob::store::{MemoryStore, Record, Store, StoreError, TransitionError, Wake};
use std::time::Duration;

use oob::time::{Clock, Timestamp, TokioClock};
use oob::{CallbackBase, Error, Manager, Namespace, PendingId};
use oob_tests::delegate::{Delegate, Overrides};
use oob_tests::{DeviceCode, ns, spec, user};

use super::is_contract;

/// Answers how a record ended to any caller, then does what the inner store does; counts
/// reads, and answers a read of any id with the record `swap` names, when set.
#[derive(Default)]
struct TellsFirst {
    reads: AtomicUsize,
    swap: Mutex<Option<PendingId>>,
}

async fn told<T, S: Store<T>>(
    inner: &S,
    id: PendingId,
    now: Timestamp,
) -> Result<(), TransitionError> {
    match inner.get(id, now).await? {
        Some(r) => match r.state.finished() {
            Some(how) => Err(TransitionError::Finished(how)),
            None => Ok(()),
        },
        None => Ok(()),
    }
}

impl<T: Send + Sync + 'static, S: Store<T>> Overrides<T, S> for TellsFirst {
    async fn get(
        &self,
        inner: &S,
        id: PendingId,
        now: Timestamp,
    ) -> Result<Option<Record<T>>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let swap = *self.swap.lock().unwrap_or_else(PoisonError::into_inner);
        inner.get(swap.unwrap_or(id), now).await
    }

    async fn complete(
        &self,
        inner: &S,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        told(inner, id, now).await?;
        inner.complete(id, expect, now, wake).await
    }

    async fn cancel(
        &self,
        inner: &S,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> Result<Record<T>, TransitionError> {
        told(inner, id, now).await?;
        inner.cancel(id, reason, expect, now).await
    }
}

type Telling = Delegate<MemoryStore<DeviceCode>, TellsFirst>;

fn manager(clock: TokioClock) -> Manager<DeviceCode, Telling, oob::provider::FromVerifiedSubject> {
    Manager::builder()
        .store(Delegate::new(MemoryStore::new(), TellsFirst::default()))
        .provider(oob::provider::FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("valid base"))
        .clock(clock)
        .build()
}

#[tokio::test]
async fn a_store_that_tells_how_it_ended_first_tells_only_its_namespace() {
    let clock = TokioClock::new();
    let m = manager(clock);
    let done = m.create(&user("alice"), spec()).await.expect("create");
    let id = done.id();
    m.complete(done).await.expect("complete");
    // The store itself tells anyone.
    let leaked = m
        .store()
        .complete(id, Some(&ns("mallory")), clock.now(), Wake::Now)
        .await;
    assert!(
        matches!(leaked, Err(TransitionError::Finished(_))),
        "{leaked:?}"
    );
    // The manager tells only alice.
    let r = m.complete_in(id, &ns("mallory")).await;
    assert!(
        matches!(r, Err(Error::NamespaceMismatch(x)) if x == id),
        "{r:?}"
    );
    let r = m
        .cancel_id(id, CancelReason::Declined, Some(&ns("mallory")))
        .await;
    assert!(matches!(r, Err(Error::NamespaceMismatch(_))), "{r:?}");
    let r = m.complete_in(id, &ns("alice")).await;
    assert!(matches!(r, Err(Error::Finished { .. })), "{r:?}");
    // Naming no namespace, the caller asks by id alone: how it ended is the answer.
    let r = m.complete_id(id).await;
    assert!(matches!(r, Err(Error::Finished { .. })), "{r:?}");
}

/// Another namespace's open and finished records cost the manager as many reads: the
/// extra read does not tell one from the other.
#[tokio::test]
async fn another_namespace_is_read_as_often_for_an_open_record_as_for_a_finished_one() {
    let m = manager(TokioClock::new());
    let open = m.create(&user("alice"), spec()).await.expect("create");
    let done = m.create(&user("alice"), spec()).await.expect("create");
    let (open, done) = (open.id(), {
        let id = done.id();
        m.complete(done).await.expect("complete");
        id
    });
    let reads = |m: &Manager<_, Telling, _>| m.store().over.reads.load(Ordering::SeqCst);
    let mut counts = Vec::new();
    for id in [open, done] {
        let before = reads(&m);
        let r = m.complete_in(id, &ns("mallory")).await;
        assert!(matches!(r, Err(Error::NamespaceMismatch(_))), "{r:?}");
        counts.push(reads(&m) - before);
    }
    assert_eq!(
        counts[0], counts[1],
        "reads for an open and a finished record"
    );
}

/// A read that answers another record (here the caller's own) hands out nothing of the
/// record asked for.
#[tokio::test]
async fn a_read_that_answers_another_record_tells_nothing() {
    let m = manager(TokioClock::new());
    let alices = m.create(&user("alice"), spec()).await.expect("create");
    let id = alices.id();
    m.complete(alices).await.expect("complete");
    let mallorys = m.create(&user("mallory"), spec()).await.expect("create");
    *m.store()
        .over
        .swap
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(mallorys.id());
    let r = m.complete_in(id, &ns("mallory")).await;
    assert!(is_contract(&r, id), "{r:?}");
}

/// The manager's reads check the store's answer too: `get`, `open` and `wait` of a pending
/// the store reads as another fail with `StoreContract` and hand out nothing. Before, `open`
/// of alice's pending could return bob's, so her poller completed bob's pending and
/// persisted her credential under his namespace. (Found by a hostile review, 2026-12-07.)
#[tokio::test]
async fn a_read_answered_with_another_record_hands_out_nothing() {
    let m = manager(TokioClock::new());
    let alices = m.create(&user("alice"), spec()).await.expect("create").id();
    let bobs = m.create(&user("bob"), spec()).await.expect("create").id();
    let swap = |to| {
        *m.store()
            .over
            .swap
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = to
    };
    swap(Some(bobs));
    assert!(matches!(m.get(alices).await, Err(Error::StoreContract(id)) if id == alices));
    assert!(matches!(m.open(alices).await, Err(Error::StoreContract(id)) if id == alices));
    assert!(matches!(
        m.wait(alices, Duration::from_secs(1)).await,
        Err(Error::StoreContract(id)) if id == alices
    ));
    // Honest again: both pendings are still open (nothing was completed through the lie).
    swap(None);
    assert!(m.open(bobs).await.is_ok());
    assert!(m.open(alices).await.is_ok());
}
