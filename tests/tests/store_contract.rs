//! The manager checks what a store answers a transition with: a custom store that returns
//! another record (another namespace, another id) than the one asked for makes the call fail
//! with `Error::StoreContract`, and a `complete_with` then never runs its persist step, so a
//! buggy store cannot hand one user's completion a capability for another namespace.
//!
//! The store here is written as a user would write one: a wrapper around `MemoryStore` that
//! delegates every method, except that its `complete` and/or `cancel` answer with a doctored
//! record. An honest wrapper (pure delegation) is checked too, so the refusals are the
//! manager's doing and not an artifact of the wrapper.
//!
//! This file holds the doctored store; one file each: the refused answers and the honest
//! wrapper (`refusals`), the waiters of a refused `complete_with` (`wakeups`), a store
//! that lists too much (`listing`), and one that tells how a record ended before it
//! compares the namespace or reads another record than the one asked for
//! (`refusal_order`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use oob::provider::FromVerifiedSubject;
use oob::state::CancelReason;
use oob::store::{MemoryStore, Record, Store, TransitionError, Wake};
use oob::time::{Timestamp, TokioClock};
use oob::vault::{MemoryVault, Vault};
use oob::{CallbackBase, Error, Manager, Namespace, PendingId};
use oob_tests::delegate::{Delegate, Overrides};
use oob_tests::{DeviceCode, spec, user};

/// How a [`Doctored`] store bends the record it answers a transition with.
#[derive(Debug, Clone)]
enum Lie {
    /// Answers truthfully.
    None,
    /// Answers with the record moved to this namespace.
    Namespace(Namespace),
    /// Answers with the record under this id.
    Id(PendingId),
}

impl Lie {
    fn apply<T>(&self, record: Record<T>) -> Record<T> {
        match self {
            Self::None => record,
            Self::Namespace(namespace) => {
                let mut lie = record;
                lie.namespace = namespace.clone();
                lie
            }
            Self::Id(id) => {
                let mut lie = record;
                lie.id = *id;
                lie
            }
        }
    }
}

/// A custom store: a `MemoryStore` whose `complete` and `cancel` answers pass through a
/// [`Lie`] each (the transition itself is done, truthfully, by the inner store).
type Doctored<T> = Delegate<MemoryStore<T>, Lies>;

/// The [`Lie`]s a [`Doctored`] store tells, changeable while it runs.
struct Lies {
    on_complete: Mutex<Lie>,
    on_cancel: Mutex<Lie>,
}

fn doctored<T>(on_complete: Lie, on_cancel: Lie) -> Doctored<T> {
    Delegate::new(
        MemoryStore::new(),
        Lies {
            on_complete: Mutex::new(on_complete),
            on_cancel: Mutex::new(on_cancel),
        },
    )
}

impl Lies {
    fn lie_on_complete(&self) -> Lie {
        self.on_complete
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn lie_on_cancel(&self) -> Lie {
        self.on_cancel
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl<T: Send + Sync + 'static, S: Store<T>> Overrides<T, S> for Lies {
    async fn complete(
        &self,
        inner: &S,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        let lie = self.lie_on_complete();
        let record = inner.complete(id, expect, now, wake).await?;
        Ok(lie.apply(record))
    }

    async fn cancel(
        &self,
        inner: &S,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> Result<Record<T>, TransitionError> {
        let lie = self.lie_on_cancel();
        let record = inner.cancel(id, reason, expect, now).await?;
        Ok(lie.apply(record))
    }
}

type M = Manager<DeviceCode, Doctored<DeviceCode>, FromVerifiedSubject>;

fn manager(on_complete: Lie, on_cancel: Lie) -> M {
    Manager::builder()
        .store(doctored(on_complete, on_cancel))
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("valid base"))
        .clock(TokioClock::new())
        .build()
}

/// Everything the vault holds for the verified caller `who` (read with that caller's own
/// capability): its keys, then the value under `github`, if any.
async fn stored(m: &M, vault: &MemoryVault<String>, who: &str) -> Vec<String> {
    let cx = user(who);
    let token = m.caller(&cx).expect("caller");
    let mut keys = vault.keys(&token).await.expect("keys");
    if let Some(v) = vault.get(&token, "github").await.expect("vault") {
        keys.push(v);
    }
    keys
}

/// Runs `complete_with` on a fresh pending of alice: whether its persist step ran, and
/// what the call returned.
async fn complete_with_persist(
    m: &M,
    vault: &MemoryVault<String>,
) -> (PendingId, bool, Result<(), Error>) {
    let open = m.create(&user("alice"), spec()).await.expect("create");
    let id = open.id();
    let ran = Arc::new(AtomicBool::new(false));
    let (writer, flag) = (vault.clone(), Arc::clone(&ran));
    let result = m
        .complete_with(open, async move |token| {
            flag.store(true, Ordering::SeqCst);
            writer.put(&token, "github", "alice-token".into()).await
        })
        .await
        .map(|(done, ())| assert_eq!(done.id(), id));
    (id, ran.load(Ordering::SeqCst), result)
}

fn is_contract(r: &Result<impl std::fmt::Debug, Error>, id: PendingId) -> bool {
    matches!(r, Err(Error::StoreContract(x)) if *x == id)
}

#[path = "store_contract/refusals.rs"]
mod refusals;

#[path = "store_contract/wakeups.rs"]
mod wakeups;

#[path = "store_contract/listing.rs"]
mod listing;

#[path = "store_contract/refusal_order.rs"]
mod refusal_order;
