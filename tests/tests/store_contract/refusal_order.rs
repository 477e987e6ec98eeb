//! A custom store that tells how a record ended before it compares the namespace (against
//! `lifecycle::refusal`'s order): the manager passes that on only to a caller in the
//! record's namespace. Another namespace gets `NamespaceMismatch`, as from the built-in
//! stores, and the owner still learns how it ended.

use oob::state::CancelReason;
use oob::store::{MemoryStore, Record, Store, TransitionError, Wake};
use oob::time::{Clock, Timestamp, TokioClock};
use oob::{CallbackBase, Error, Manager, Namespace, PendingId};
use oob_tests::delegate::{Delegate, Overrides};
use oob_tests::{DeviceCode, ns, spec, user};

/// Answers how a record ended to any caller, then does what the inner store does.
struct TellsFirst;

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

#[tokio::test]
async fn a_store_that_tells_how_it_ended_first_tells_only_its_namespace() {
    let clock = TokioClock::new();
    let m = Manager::builder()
        .store(Delegate::new(MemoryStore::<DeviceCode>::new(), TellsFirst))
        .provider(oob::provider::FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("valid base"))
        .clock(clock)
        .build();
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
