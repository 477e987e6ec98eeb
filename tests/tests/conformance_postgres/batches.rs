//! The Postgres store's group commit: creates and transitions that arrive together share a
//! statement, and every call still gets the answer its own statement would have given.
//!
//! Each case runs on a current-thread runtime: the calls it starts together all reach the
//! store's batching task before that task runs, so they land in one batch.

use std::sync::Arc;

use super::*;
use oob::provider::FromVerifiedSubject;
use oob::state::CancelReason;
use oob::store::{
    CreateError, Created, Dedup, Finished, Limits, NewRecord, Scope, Store, TransitionError, Wake,
};
use oob::time::{Clock, SystemClock, Timestamp};
use oob::{CallbackBase, Error, Manager, PendingId};
use oob_tests::delegate::{Delegate, Overrides};
use oob_tests::{ns, spec, user};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

type Store_ = PostgresStore<DeviceCode>;

async fn store() -> Store_ {
    let pool = server().pool(8).await;
    PostgresServer::store(&pool, &fresh_schema(), Duration::from_secs(300)).await
}

fn manager<S: Store<DeviceCode>>(
    store: S,
    per_ns: usize,
) -> Manager<DeviceCode, S, FromVerifiedSubject> {
    Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .clock(SystemClock)
        .max_open_per_namespace(per_ns)
        .build()
}

/// How many transactions wrote the rows of `table` in the store's schema (rows written by
/// one statement share their `xmin`).
async fn writers(store: &Store_, table: &str) -> i64 {
    let sql = format!(
        "SELECT count(DISTINCT xmin::text) FROM {}.{table}",
        store.schema().as_str()
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(store.pool())
        .await
        .expect("xmin")
}

/// 32 creates in 32 namespaces, then their 32 completes, each set started together: every
/// call gets its own answer, and their rows were written by a handful of transactions, not
/// one per call.
#[tokio::test]
async fn calls_arriving_together_share_a_statement() {
    const N: usize = 32;
    let store = store().await;
    let m = manager(store.clone(), 10);
    let mut creates = JoinSet::new();
    for i in 0..N {
        let m = m.clone();
        creates.spawn(async move { m.create(&Some(user(&format!("n{i}"))), spec()).await });
    }
    let mut ids = Vec::new();
    while let Some(done) = creates.join_next().await {
        ids.push(done.expect("join").expect("create").id());
    }
    let created = writers(&store, "pendings").await;
    assert!(created < 4, "{created} transactions for {N} creates");
    let mut completes = JoinSet::new();
    for id in ids.clone() {
        let m = m.clone();
        completes.spawn(async move { m.complete_id(id).await });
    }
    while let Some(done) = completes.join_next().await {
        done.expect("join").expect("complete");
    }
    let completed = writers(&store, "finished").await;
    assert!(completed < 4, "{completed} transactions for {N} completes");
    for (i, id) in ids.iter().enumerate() {
        assert!(matches!(
            m.get(*id).await,
            Ok(oob::AnyPending::Completed(_))
        ));
        assert!(
            m.list(&Some(user(&format!("n{i}"))))
                .await
                .expect("list")
                .is_empty()
        );
    }
    // The `counts` rows went down with the completes: each namespace takes its bound again.
    for i in 0..N {
        for _ in 0..10 {
            m.create(&Some(user(&format!("n{i}"))), spec())
                .await
                .expect("create");
        }
    }
}

/// Creates of one namespace arriving together (with creates of others) still stop at its
/// bound: one of them goes with the batch, the rest alone.
#[tokio::test]
async fn creates_of_one_namespace_together_keep_its_bound() {
    let store = store().await;
    let m = manager(store.clone(), 3);
    let mut calls = JoinSet::new();
    for i in 0..20 {
        let m = m.clone();
        let namespace = if i % 2 == 0 {
            "a".to_owned()
        } else {
            format!("b{i}")
        };
        calls.spawn(async move {
            (
                namespace.clone(),
                m.create(&Some(user(&namespace)), spec()).await,
            )
        });
    }
    let (mut made, mut refused) = (0, 0);
    while let Some(done) = calls.join_next().await {
        match done.expect("join") {
            (n, Ok(_)) if n == "a" => made += 1,
            (n, Err(Error::Capacity(Scope::Namespace))) if n == "a" => refused += 1,
            (_, Ok(_)) => {}
            (n, other) => panic!("{n}: {other:?}"),
        }
    }
    assert_eq!((made, refused), (3, 7));
    assert_eq!(m.list(&Some(user("a"))).await.expect("list").len(), 3);
}

/// Completes and cancels arriving together, some of which cannot apply (finished already,
/// no such id, another namespace, the same id twice): the others are applied, and each of
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
    let now = SystemClock.now();
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

/// A create whose id is open already, arriving with creates of other namespaces: Postgres
/// refuses their shared statement as a whole, and each call runs alone: the duplicate is
/// refused, the others are made (nothing of the refused statement stays).
#[tokio::test]
async fn a_batch_refused_as_a_whole_runs_each_call_alone() {
    const OTHERS: usize = 8;
    let store = store().await;
    let gate = Arc::new(Barrier::new(OTHERS + 1));
    let second = Arc::new(std::sync::Mutex::new(None));
    let bent = Delegate::new(
        store.clone(),
        TwiceTogether {
            gate: gate.clone(),
            second: second.clone(),
        },
    );
    let m = manager(bent, 10);
    let mut calls = JoinSet::new();
    for i in 0..=OTHERS {
        let m = m.clone();
        let namespace = if i == 0 {
            "dup".to_owned()
        } else {
            format!("o{i}")
        };
        calls.spawn(async move { m.create(&Some(user(&namespace)), spec()).await });
    }
    while let Some(done) = calls.join_next().await {
        done.expect("join").expect("create");
    }
    let again = second
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take()
        .expect("second create");
    assert!(matches!(again, Err(CreateError::DuplicateId)), "{again:?}");
    assert_eq!(m.list(&Some(user("dup"))).await.expect("list").len(), 1);
    for i in 1..=OTHERS {
        assert_eq!(
            m.list(&Some(user(&format!("o{i}"))))
                .await
                .expect("list")
                .len(),
            1
        );
    }
}

/// Creates in namespace `dup` twice: once alone, then again together with the creates of
/// the other namespaces (all wait at `gate` before they reach the store).
struct TwiceTogether {
    gate: Arc<Barrier>,
    second: Arc<std::sync::Mutex<Option<Result<Created<DeviceCode>, CreateError>>>>,
}

impl<S: Store<DeviceCode>> Overrides<DeviceCode, S> for TwiceTogether {
    async fn create(
        &self,
        inner: &S,
        new: &NewRecord<DeviceCode>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> Result<Created<DeviceCode>, CreateError> {
        if new.record().namespace != ns("dup") {
            self.gate.wait().await;
            return inner.create(new, limits, dedup, now).await;
        }
        let first = inner.create(new, limits, dedup, now).await;
        self.gate.wait().await;
        let again = inner.create(new, limits, dedup, now).await;
        *self
            .second
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(again);
        first
    }
}
