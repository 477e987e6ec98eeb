//! A doctored answer to `complete` or `cancel` (another namespace, another id) fails every
//! transition call with `Error::StoreContract`, and `complete_with` persists nothing; the
//! honest wrapper passes every call.

use std::sync::PoisonError;

use oob::AnyPending;
use oob::state::CancelReason;
use oob::vault::MemoryVault;
use oob::{Error, Namespace, PendingId};
use oob_tests::{ns, spec, user};

use super::{Lie, M, complete_with_persist, is_contract, manager, stored};

#[tokio::test]
async fn complete_with_refuses_an_answer_in_another_namespace_and_persists_nothing() {
    let m = manager(Lie::Namespace(ns("mallory")), Lie::None);
    let vault = MemoryVault::<String>::new();
    let (id, ran, result) = complete_with_persist(&m, &vault).await;
    assert!(is_contract(&result, id), "{result:?}");
    assert!(!ran, "the persist step ran with a store that lied");
    assert!(stored(&m, &vault, "alice").await.is_empty());
    assert!(stored(&m, &vault, "mallory").await.is_empty());
    // The inner store did complete it (the user acted); nothing was handed out.
    assert!(matches!(m.get(id).await, Ok(AnyPending::Completed(_))));
}

#[tokio::test]
async fn complete_with_refuses_an_answer_with_another_id_and_persists_nothing() {
    let m = manager(Lie::Id(PendingId::random()), Lie::None);
    let vault = MemoryVault::<String>::new();
    let (id, ran, result) = complete_with_persist(&m, &vault).await;
    assert!(is_contract(&result, id), "{result:?}");
    assert!(!ran, "the persist step ran with a store that lied");
    assert!(stored(&m, &vault, "alice").await.is_empty());

    // Another id that names a real pending of another user: still refused, nothing written
    // for either of them.
    let bobs = m.create(&user("bob"), spec()).await.expect("create");
    *m.store()
        .over
        .on_complete
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Lie::Id(bobs.id());
    let (id, ran, result) = complete_with_persist(&m, &vault).await;
    assert!(is_contract(&result, id), "{result:?}");
    assert!(!ran, "the persist step ran with a store that lied");
    assert!(stored(&m, &vault, "alice").await.is_empty());
    assert!(stored(&m, &vault, "bob").await.is_empty());
}

#[tokio::test]
async fn complete_and_complete_in_refuse_an_answer_in_another_namespace() {
    let m = manager(Lie::Namespace(ns("mallory")), Lie::None);
    let open = m.create(&user("alice"), spec()).await.expect("create");
    let id = open.id();
    let r = m.complete(open).await;
    assert!(is_contract(&r, id), "{r:?}");

    // `complete_in` checks the answer against the namespace it was given.
    let open = m.create(&user("alice"), spec()).await.expect("create");
    let id = open.id();
    let r = m.complete_in(id, &ns("alice")).await;
    assert!(is_contract(&r, id), "{r:?}");

    // Another expected namespace is refused by the store itself, before any answer.
    let open = m.create(&user("alice"), spec()).await.expect("create");
    let id = open.id();
    let r = m.complete_in(id, &ns("mallory")).await;
    assert!(
        matches!(r, Err(Error::NamespaceMismatch(x)) if x == id),
        "{r:?}"
    );
    assert!(matches!(m.get(id).await, Ok(AnyPending::Open(_))));
}

#[tokio::test]
async fn complete_complete_id_and_complete_in_refuse_an_answer_with_another_id() {
    let m = manager(Lie::Id(PendingId::random()), Lie::None);
    let open = m.create(&user("alice"), spec()).await.expect("create");
    let id = open.id();
    let r = m.complete(open).await;
    assert!(is_contract(&r, id), "{r:?}");

    let id = m.create(&user("alice"), spec()).await.expect("create").id();
    let r = m.complete_id(id).await;
    assert!(is_contract(&r, id), "{r:?}");

    let id = m.create(&user("alice"), spec()).await.expect("create").id();
    let r = m.complete_in(id, &ns("alice")).await;
    assert!(is_contract(&r, id), "{r:?}");
}

/// `cancel`, `decline`, and `cancel_id` with `reason` and `expect`, each on a fresh pending
/// of alice: every one fails with the contract error.
async fn cancels_are_refused(m: &M, reason: CancelReason, expect: Option<&Namespace>) {
    let open = m.create(&user("alice"), spec()).await.expect("create");
    let id = open.id();
    let r = m.cancel(open).await;
    assert!(is_contract(&r, id), "{r:?}");

    let open = m.create(&user("alice"), spec()).await.expect("create");
    let id = open.id();
    let r = m.decline(open).await;
    assert!(is_contract(&r, id), "{r:?}");

    let id = m.create(&user("alice"), spec()).await.expect("create").id();
    let r = m.cancel_id(id, reason, expect).await;
    assert!(is_contract(&r, id), "{r:?}");
}

#[tokio::test]
async fn cancel_and_decline_refuse_an_answer_in_another_namespace() {
    let m = manager(Lie::None, Lie::Namespace(ns("mallory")));
    cancels_are_refused(&m, CancelReason::Cancelled, Some(&ns("alice"))).await;
}

#[tokio::test]
async fn cancel_and_decline_refuse_an_answer_with_another_id() {
    let m = manager(Lie::None, Lie::Id(PendingId::random()));
    cancels_are_refused(&m, CancelReason::Declined, None).await;
}

/// The same wrapper, delegating truthfully: every call above succeeds, and `complete_with`
/// persists under the pending's own namespace.
#[tokio::test]
async fn an_honest_wrapper_passes_every_call() {
    let m = manager(Lie::None, Lie::None);
    let vault = MemoryVault::<String>::new();
    let (id, ran, result) = complete_with_persist(&m, &vault).await;
    result.expect("complete_with");
    assert!(ran);
    assert_eq!(
        stored(&m, &vault, "alice").await,
        vec!["github".to_string(), "alice-token".to_string()]
    );
    assert!(stored(&m, &vault, "mallory").await.is_empty());
    assert!(matches!(m.get(id).await, Ok(AnyPending::Completed(_))));

    let open = m.create(&user("alice"), spec()).await.expect("create");
    let done = m.complete(open).await.expect("complete");
    assert_eq!(done.namespace(), &ns("alice"));
    let id = m.create(&user("alice"), spec()).await.expect("create").id();
    m.complete_id(id).await.expect("complete_id");
    let id = m.create(&user("alice"), spec()).await.expect("create").id();
    m.complete_in(id, &ns("alice")).await.expect("complete_in");

    let open = m.create(&user("alice"), spec()).await.expect("create");
    assert!(!m.cancel(open).await.expect("cancel").is_declined());
    let open = m.create(&user("alice"), spec()).await.expect("create");
    assert!(m.decline(open).await.expect("decline").is_declined());
    let id = m.create(&user("alice"), spec()).await.expect("create").id();
    let cancelled = m
        .cancel_id(id, CancelReason::Cancelled, Some(&ns("alice")))
        .await
        .expect("cancel_id");
    assert_eq!(cancelled.id(), id);
    assert!(matches!(m.get(id).await, Ok(AnyPending::Cancelled(_))));
}
