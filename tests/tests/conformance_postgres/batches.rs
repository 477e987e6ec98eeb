//! The Postgres store's group commit: creates and transitions that arrive together share a
//! statement, and every call still gets the answer its own statement would have given.
//!
//! Each case runs on a current-thread runtime: the calls it starts together all reach the
//! store's batching task before that task runs, so they land in one batch.

use std::sync::Arc;

pub(super) use super::postgres_only::counted;
use super::*;
use oob::provider::FromVerifiedSubject;
use oob::store::{CreateError, Created, Dedup, Limits, NewRecord, Scope, Store};
use oob::time::{SystemClock, Timestamp};
use oob::{CallbackBase, Error, Manager};
use oob_tests::delegate::{Delegate, Overrides};
use oob_tests::{ns, spec, user};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

pub(super) type Store_ = PostgresStore<DeviceCode>;

#[path = "batched_transitions.rs"]
mod transitions;

pub(super) async fn store() -> Store_ {
    store_with(Duration::from_secs(300)).await
}

pub(super) async fn store_with(retention: Duration) -> Store_ {
    let pool = server().pool(8).await;
    PostgresServer::store(&pool, &fresh_schema(), retention).await
}

pub(super) fn manager<S: Store<DeviceCode>>(
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
pub(super) async fn writers(store: &Store_, table: &str) -> i64 {
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
    let (mut ids, mut opens) = (Vec::new(), Vec::new());
    while let Some(done) = creates.join_next().await {
        let open = done.expect("join").expect("create");
        ids.push(open.id());
        opens.push(open);
    }
    let created = writers(&store, "pendings").await;
    assert!(created < 4, "{created} transactions for {N} creates");
    let mut completes = JoinSet::new();
    for open in opens {
        let m = m.clone();
        completes.spawn(async move { m.complete(open).await });
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

/// A create in a batch is refused at its namespace's bound: a namespace already full, and a
/// bound of zero (which leaves no `counts` row).
#[tokio::test]
async fn a_batched_create_stops_at_the_bound() {
    let store = store().await;
    let m = manager(store.clone(), 2);
    for _ in 0..2 {
        m.create(&Some(user("full")), spec()).await.expect("create");
    }
    let mut calls = JoinSet::new();
    for i in 0..8 {
        let m = m.clone();
        let namespace = if i == 0 {
            "full".to_owned()
        } else {
            format!("f{i}")
        };
        calls.spawn(async move {
            (
                namespace.clone(),
                m.create(&Some(user(&namespace)), spec()).await,
            )
        });
    }
    while let Some(done) = calls.join_next().await {
        match done.expect("join") {
            (n, Err(Error::Capacity(Scope::Namespace))) if n == "full" => {}
            (n, Ok(_)) if n != "full" => {}
            (n, other) => panic!("{n}: {other:?}"),
        }
    }
    assert_eq!(m.list(&Some(user("full"))).await.expect("list").len(), 2);
    let none = manager(store.clone(), 0);
    let mut calls = JoinSet::new();
    for i in 0..8 {
        let none = none.clone();
        calls.spawn(async move { none.create(&Some(user(&format!("z{i}"))), spec()).await });
    }
    while let Some(done) = calls.join_next().await {
        let got = done.expect("join");
        assert!(
            matches!(got, Err(Error::Capacity(Scope::Namespace))),
            "{got:?}"
        );
    }
    for i in 0..8 {
        assert!(
            !counted(&store, &format!("z{i}")).await,
            "a row for a bound of zero"
        );
    }
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

/// What the second create of a [`TwiceTogether`] answered.
type Second = Arc<std::sync::Mutex<Option<Result<Created<DeviceCode>, CreateError>>>>;

/// Creates in namespace `dup` twice: once alone, then again together with the creates of
/// the other namespaces (all wait at `gate` before they reach the store).
struct TwiceTogether {
    gate: Arc<Barrier>,
    second: Second,
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
