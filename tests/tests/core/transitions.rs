//! Transitions: one completion wins, every later transition fails saying how, unknown and
//! expired pendings.

use std::sync::Arc;
use std::time::Duration;

use oob::state::CancelReason;
use oob::store::Finished;
use oob::{AnyPending, Error, PendingId};
use oob_tests::*;

#[tokio::test]
async fn complete_then_every_later_transition_fails_saying_how() {
    let m = manager();
    let p = m.create(&user("a"), spec()).await.unwrap();
    let id = p.id();
    let done = m.complete(p).await.unwrap();
    assert_eq!(done.id(), id);
    assert!(done.completed_at() >= done.created_at());
    for r in [
        m.complete_id(id).await.map(|_| ()),
        m.cancel_id(id, CancelReason::Cancelled, None)
            .await
            .map(|_| ()),
        m.cancel_id(id, CancelReason::Declined, None)
            .await
            .map(|_| ()),
        m.open(id).await.map(|_| ()),
    ] {
        assert!(
            matches!(r, Err(Error::Finished { how: Finished::Completed, id: e }) if e == id),
            "{r:?}"
        );
    }
    assert!(matches!(m.get(id).await.unwrap(), AnyPending::Completed(_)));
}

#[tokio::test]
async fn cancel_and_decline_are_recorded_apart() {
    let m = manager();
    let a = m.create(&user("a"), spec()).await.unwrap();
    let b = m.create(&user("a"), spec()).await.unwrap();
    let (ida, idb) = (a.id(), b.id());
    let ca = m.cancel(a).await.unwrap();
    assert_eq!(ca.reason(), CancelReason::Cancelled);
    assert!(!ca.is_declined());
    let cb = m.decline(b).await.unwrap();
    assert!(cb.is_declined());
    assert_eq!(
        finished(&m.complete_id(ida).await),
        Some(Finished::Cancelled)
    );
    assert_eq!(
        finished(&m.complete_id(idb).await),
        Some(Finished::Declined)
    );
    match m.get(idb).await.unwrap() {
        AnyPending::Cancelled(p) => assert!(p.is_declined()),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn unknown_ids_are_not_found() {
    let m = manager();
    let id = PendingId::random();
    assert!(matches!(m.get(id).await, Err(Error::NotFound(e)) if e == id));
    assert!(matches!(m.open(id).await, Err(Error::NotFound(_))));
    assert!(matches!(m.complete_id(id).await, Err(Error::NotFound(_))));
    assert!(matches!(
        m.cancel_id(id, CancelReason::Cancelled, None).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        m.wait(id, Duration::from_millis(10)).await,
        Err(Error::NotFound(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn expired_pending_cannot_be_completed_and_is_not_listed() {
    let m = manager();
    let p = m
        .create(&user("a"), spec().ttl(Duration::from_secs(5)))
        .await
        .unwrap();
    let keep = m.create(&user("a"), spec()).await.unwrap();
    let id = p.id();
    tokio::time::advance(Duration::from_secs(6)).await;
    assert!(matches!(m.complete(p).await, Err(Error::Expired(e)) if e == id));
    assert!(matches!(m.open(id).await, Err(Error::Expired(_))));
    assert!(matches!(m.get(id).await.unwrap(), AnyPending::Expired(_)));
    let listed: Vec<_> = m
        .list(&user("a"))
        .await
        .unwrap()
        .iter()
        .map(|p| p.id())
        .collect();
    assert_eq!(listed, vec![keep.id()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_completes_give_exactly_one_success() {
    let m = manager();
    let p = m.create(&user("a"), spec()).await.unwrap();
    let id = p.id();
    let barrier = Arc::new(tokio::sync::Barrier::new(1000));
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let m = m.clone();
            let b = barrier.clone();
            tokio::spawn(async move {
                b.wait().await;
                m.complete_id(id).await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(Error::Finished {
                how: Finished::Completed,
                ..
            }) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 1);
}
