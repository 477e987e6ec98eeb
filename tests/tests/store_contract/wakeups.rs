//! A refused `complete_with` does not trust the store's answer for the wake-up: only its
//! own waiters wake, with the pending's own record.

use std::sync::PoisonError;

use oob::AnyPending;
use oob_tests::{ns, spec, user};

use super::{Lie, is_contract, manager};

/// When `complete_with` refuses a store's answer, it does not trust that answer for the
/// wake-up either: with an answer under another id, the waiters of that other (still open)
/// pending must not be told it completed, and the waiters of the pending the store did
/// complete are woken with its own record (re-read), not left to their deadline.
#[tokio::test]
async fn a_refused_complete_with_wakes_only_its_own_waiters_with_its_own_record() {
    use std::time::Duration;
    let m = manager(Lie::None, Lie::None);
    let bobs = m.create(&user("bob"), spec()).await.expect("create");
    let alices = m.create(&user("alice"), spec()).await.expect("create");
    let (aid, bid) = (alices.id(), bobs.id());
    let alice_waits = oob_tests::spawn_wait(&m, aid, Duration::from_secs(2));
    let mut bob_waits = oob_tests::spawn_wait(&m, bid, Duration::from_secs(30));
    while m.store().inner.watched() < 2 {
        tokio::task::yield_now().await;
    }
    *m.store()
        .over
        .on_complete
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Lie::Id(bid);
    let r = m
        .complete_with(alices, async |_token| Ok::<_, std::io::Error>(()))
        .await;
    assert!(is_contract(&r, aid), "{r:?}");
    // Bob's pending is still open: his waiter must not have been told otherwise.
    let early = tokio::time::timeout(Duration::from_millis(200), &mut bob_waits).await;
    assert!(
        early.is_err(),
        "bob's waiter woke for a pending that is still open: {early:?}"
    );
    assert!(matches!(m.get(bid).await, Ok(AnyPending::Open(_))));
    // Alice's pending was completed in the store: her waiter wakes (well before its 2 s).
    match alice_waits.await.expect("join").expect("wait") {
        oob::Outcome::Completed(p) => assert_eq!(p.namespace(), &ns("alice")),
        other => panic!("alice's waiter was not woken by the completion: {other:?}"),
    }
    bob_waits.abort();
}

/// As above, for an answer in another namespace: the waiter's outcome must name the
/// pending's true namespace, not the one the store's answer carried.
#[tokio::test]
async fn a_refused_complete_with_wakes_its_waiters_with_the_true_namespace() {
    use std::time::Duration;
    let m = manager(Lie::Namespace(ns("mallory")), Lie::None);
    let open = m.create(&user("alice"), spec()).await.expect("create");
    let id = open.id();
    let waiter = oob_tests::spawn_wait(&m, id, Duration::from_secs(30));
    while m.store().inner.watched() < 1 {
        tokio::task::yield_now().await;
    }
    let r = m
        .complete_with(open, async |_token| Ok::<_, std::io::Error>(()))
        .await;
    assert!(is_contract(&r, id), "{r:?}");
    match waiter.await.expect("join").expect("wait") {
        oob::Outcome::Completed(p) => assert_eq!(
            p.namespace(),
            &ns("alice"),
            "the waiter's outcome names the namespace the store lied about"
        ),
        other => panic!("{other:?}"),
    }
}
