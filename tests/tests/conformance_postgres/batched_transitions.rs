//! The Postgres store's group commit, transitions: completes and cancels arriving together
//! (see `batches.rs`).

use super::*;
use oob::PendingId;
use oob::state::CancelReason;
use oob::store::{Finished, Store, TransitionError, Wake};
use oob::time::{Clock, SystemClock, Timestamp};
use oob_tests::{ns, spec, user};
use tokio::task::JoinSet;

/// A payload of another kind, stored in the same schema.
#[derive(Clone, serde::Serialize, serde::Deserialize, oob::OobPayload)]
#[oob(kind = "other_kind", route = "/cb/{id}")]
struct Other;

/// With zero retention, completes arriving together delete their rows (those with
/// `Wake::Later` keep theirs until `wake`), and the namespaces they left empty lose their
/// zero `counts` rows at the next purge.
#[tokio::test]
async fn zero_retention_completes_together_forget_their_rows() {
    const N: usize = 12;
    let store = store_with(Duration::ZERO).await;
    let m = manager(store.clone(), 10);
    let mut ids = Vec::new();
    for i in 0..N {
        ids.push(
            m.create(&Some(user(&format!("z{i}"))), spec())
                .await
                .expect("create")
                .id(),
        );
    }
    let now = SystemClock.now();
    let mut calls = JoinSet::new();
    for (i, id) in ids.iter().enumerate() {
        let (store, id, namespace) = (store.clone(), *id, ns(&format!("z{i}")));
        let wake = if i < 2 { Wake::Later } else { Wake::Now };
        calls.spawn(async move { store.complete(id, Some(&namespace), now, wake).await });
    }
    let mut later = Vec::new();
    while let Some(done) = calls.join_next().await {
        let r = done.expect("join").expect("complete");
        assert_eq!(r.state.finished(), Some(Finished::Completed));
        if ids[..2].contains(&r.id) {
            later.push(r);
        }
    }
    for (i, id) in ids.iter().enumerate() {
        let kept = store.get(*id, now).await.expect("get").is_some();
        assert_eq!(kept, i < 2, "record {i}");
    }
    for r in &later {
        store.wake(r).await.expect("wake");
    }
    store.purge(SystemClock.now()).await.expect("purge");
    for (i, id) in ids.iter().enumerate() {
        assert!(store.get(*id, now).await.expect("get").is_none());
        assert!(
            !counted(&store, &format!("z{i}")).await,
            "the zero row of z{i}"
        );
    }
}

/// Transitions through a store of another kind, arriving together, find nothing of this
/// kind's records.
#[tokio::test]
async fn batched_transitions_keep_to_their_kind() {
    let store = store().await;
    let other = PostgresStore::<Other>::builder(store.pool().clone())
        .schema(store.schema().as_str())
        .build()
        .await
        .expect("store");
    let m = manager(store.clone(), 10);
    let a = m
        .create(&Some(user("k")), spec())
        .await
        .expect("create")
        .id();
    let b = m
        .create(&Some(user("k")), spec())
        .await
        .expect("create")
        .id();
    let now = SystemClock.now();
    let mut calls = JoinSet::new();
    for id in [a, b] {
        let other = other.clone();
        calls.spawn(async move { other.complete(id, None, now, Wake::Now).await });
    }
    while let Some(done) = calls.join_next().await {
        let got = done.expect("join");
        assert!(matches!(got, Err(TransitionError::NotFound)), "{got:?}");
    }
    assert_eq!(m.list(&Some(user("k"))).await.expect("list").len(), 2);
}

/// Completes and cancels arriving together, some of which cannot apply (finished already,
/// past the deadline at the call's time, no such id, another namespace, the same id twice):
/// the others are applied, and each of
/// those gets the error its own statement gives.
#[tokio::test]
async fn transitions_together_answer_each_call() {
    let store = store().await;
    let m = manager(store.clone(), 10);
    let mut open = Vec::new();
    for i in 0..6 {
        open.push(
            m.create(&Some(user(&format!("t{i}"))), spec())
                .await
                .expect("create")
                .id(),
        );
    }
    let done = m
        .create(&Some(user("t0")), spec())
        .await
        .expect("create")
        .id();
    m.complete_id(done).await.expect("complete");
    let elsewhere = m
        .create(&Some(user("t9")), spec())
        .await
        .expect("create")
        .id();
    let declined = m
        .create(&Some(user("t7")), spec())
        .await
        .expect("create")
        .id();
    let late = m
        .create(&Some(user("t6")), spec())
        .await
        .expect("create")
        .id();
    let now = SystemClock.now();
    let late_deadline = store
        .get(late, now)
        .await
        .expect("get")
        .expect("late")
        .expires_at;
    let call = |id: PendingId, namespace: &str| {
        let (store, namespace) = (store.clone(), ns(namespace));
        async move { store.complete(id, Some(&namespace), now, Wake::Now).await }
    };
    // Nothing below awaits until every call is queued.
    let mut calls = JoinSet::new();
    let first = calls.spawn(call(open[0], "t0")).id();
    for (i, id) in open.iter().enumerate().skip(1) {
        calls.spawn(call(*id, &format!("t{i}")));
    }
    let twice = calls.spawn(call(open[0], "t0")).id();
    let finished = calls.spawn(call(done, "t0")).id();
    let unknown = calls.spawn(call(PendingId::random(), "t0")).id();
    let other_ns = calls.spawn(call(elsewhere, "t8")).id();
    let expired = calls
        .spawn({
            let store = store.clone();
            // Just past its deadline (further, it would be past its retention too).
            let later = Timestamp::from_millis(late_deadline.as_millis() + 1);
            async move {
                store
                    .complete(late, Some(&ns("t6")), later, Wake::Now)
                    .await
            }
        })
        .id();
    let cancelled = calls
        .spawn({
            let store = store.clone();
            async move {
                store
                    .cancel(declined, CancelReason::Declined, None, now)
                    .await
            }
        })
        .id();
    let (mut won, mut lost) = (0, 0);
    while let Some(done) = calls.join_next_with_id().await {
        let (task, got) = done.expect("join");
        if task == first || task == twice || task == finished {
            match got {
                Err(TransitionError::Finished(Finished::Completed)) => lost += 1,
                Ok(_) => won += 1,
                other => panic!("{other:?}"),
            }
        } else if task == unknown {
            assert!(matches!(got, Err(TransitionError::NotFound)), "{got:?}");
        } else if task == expired {
            assert!(
                matches!(got, Err(TransitionError::Finished(Finished::Expired))),
                "{got:?}"
            );
        } else if task == other_ns {
            assert!(
                matches!(got, Err(TransitionError::NamespaceMismatch)),
                "{got:?}"
            );
        } else if task == cancelled {
            let r = got.expect("cancel");
            assert_eq!(r.state.finished(), Some(Finished::Declined));
        } else {
            got.expect("complete");
            won += 1;
        }
    }
    // The six, of which `open[0]` by exactly one of its two calls; `done` by none.
    assert_eq!((won, lost), (6, 2));
    assert!(matches!(
        m.get(elsewhere).await,
        Ok(oob::AnyPending::Open(_))
    ));
}
