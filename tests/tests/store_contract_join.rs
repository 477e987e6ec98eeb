//! The manager checks a store's dedup answers too: a custom store that answers a caller's
//! `create_or_join` with another namespace's pending (as joined, or as the decline in its
//! cooldown) makes the call fail with `Error::StoreContract`, so one user is never handed
//! another's pending, whose completion would then write under the other namespace.
//!
//! The store is a wrapper around `MemoryStore` that delegates every method, except that its
//! `create` answers a dedup create with a record it kept from an earlier create (another
//! user's). An honest run of the same wrapper is checked too.

use std::sync::{Mutex, PoisonError};

use oob::provider::FromVerifiedSubject;
use oob::state::CancelReason;
use oob::store::{CreateError, Created, Dedup, Limits, MemoryStore, NewRecord, Record, Store};
use oob::time::{Timestamp, TokioClock};
use oob::{CallbackBase, Error, Joined, Manager};
use oob_tests::delegate::{Delegate, Overrides};
use oob_tests::{DeviceCode, spec, user};

/// What a [`Lying`] store answers a dedup create with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// What the inner store answered.
    Truth,
    /// The kept record, as joined.
    Joined,
    /// The kept record, cancelled as declined, as the decline in its cooldown.
    Declined,
}

struct Lie {
    answer: Answer,
    /// The first record created (another user's, in these tests).
    kept: Mutex<Option<Record<DeviceCode>>>,
}

type Lying = Delegate<MemoryStore<DeviceCode>, Lie>;

impl Overrides<DeviceCode, MemoryStore<DeviceCode>> for Lie {
    async fn create(
        &self,
        inner: &MemoryStore<DeviceCode>,
        new: &NewRecord<DeviceCode>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> Result<Created<DeviceCode>, CreateError> {
        let created = inner.create(new, limits, dedup, now).await?;
        let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(other) = kept.clone() else {
            *kept = Some(new.record().clone());
            return Ok(created);
        };
        Ok(match self.answer {
            Answer::Truth => created,
            Answer::Joined => Created::Joined(other),
            Answer::Declined => {
                Created::Declined(other.with_state(oob::store::RecordState::Cancelled {
                    at: now,
                    reason: CancelReason::Declined,
                }))
            }
        })
    }
}

fn manager(answer: Answer) -> Manager<DeviceCode, Lying, FromVerifiedSubject> {
    Manager::builder()
        .store(Delegate::new(
            MemoryStore::new(),
            Lie {
                answer,
                kept: Mutex::new(None),
            },
        ))
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("valid base"))
        .clock(TokioClock::new())
        .build()
}

#[tokio::test(start_paused = true)]
async fn a_join_answered_with_another_namespaces_pending_is_refused() {
    for answer in [Answer::Joined, Answer::Declined] {
        let m = manager(answer);
        let bob = m.create(&user("bob"), spec()).await.expect("bob's create");
        let alice = m.create_or_join(&user("alice"), spec()).await;
        assert!(
            matches!(alice, Err(Error::StoreContract(id)) if id != bob.id()),
            "{answer:?}: alice was answered with {alice:?}"
        );
        // Bob's pending is untouched and still his alone.
        assert!(m.open(bob.id()).await.is_ok(), "{answer:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_same_wrapper_answering_truthfully_joins_within_a_namespace() {
    let m = manager(Answer::Truth);
    let first = m.create(&user("alice"), spec()).await.expect("create");
    match m.create_or_join(&user("alice"), spec()).await {
        Ok(Joined::Joined(p)) => assert_eq!(p.id(), first.id()),
        other => panic!("expected a join of alice's own pending, got {other:?}"),
    }
    // And a lying answer that happens to be the caller's own is accepted as such.
    let m = manager(Answer::Joined);
    let first = m.create(&user("alice"), spec()).await.expect("create");
    match m.create_or_join(&user("alice"), spec()).await {
        Ok(Joined::Joined(p)) => assert_eq!(p.id(), first.id()),
        other => panic!("expected a join of alice's own pending, got {other:?}"),
    }
}
