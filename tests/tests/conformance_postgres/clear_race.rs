//! A clear against records that leave `pendings` for `finished` while it runs: a complete
//! (alone, or in a batch) and a create's move of expired rows. Each case holds the record's
//! row lock in a transaction of its own, starts the racing calls, waits (polling
//! `pg_stat_activity`) until they wait for that lock, then lets them go; whatever was moved
//! into `finished` meanwhile must go with the clear.

use super::*;
use oob::PendingId;
use oob::provider::FromVerifiedSubject;
use oob::store::{Store, TransitionError, Wake};
use oob::time::{Clock, SystemClock};
use oob::{CallbackBase, Manager};
use oob_tests::conformance::{Opts, manager_on};
use oob_tests::{ns, spec, user};
use sqlx::{AssertSqlSafe, PgPool, Postgres, Transaction};
use tokio::task::JoinSet;

type Store_ = PostgresStore<DeviceCode>;

async fn store() -> Store_ {
    let pool = server().pool(8).await;
    PostgresServer::store(&pool, &fresh_schema(), Duration::from_secs(300)).await
}

fn manager(store: &Store_) -> Manager<DeviceCode, Store_, FromVerifiedSubject> {
    Manager::builder()
        .store(store.clone())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .clock(SystemClock)
        .build()
}

/// A transaction holding the row locks of `ids` (in `pendings`) until it ends.
async fn lock_rows(store: &Store_, ids: &[PendingId]) -> Transaction<'static, Postgres> {
    let mut tx = store.pool().begin().await.expect("begin");
    let sql = format!(
        "SELECT id FROM {}.pendings WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
        store.schema().as_str()
    );
    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
    let locked = sqlx::query(AssertSqlSafe(sql))
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await
        .expect("lock");
    assert_eq!(locked.len(), ids.len(), "every row locked");
    tx
}

/// How many statements on the store's schema (containing `text`) wait for a lock.
async fn waiting(pool: &PgPool, schema: &str, text: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
         AND strpos(query, $1) > 0 AND strpos(query, $2) > 0",
    )
    .bind(format!("{schema}."))
    .bind(text)
    .fetch_one(pool)
    .await
    .expect("pg_stat_activity")
}

/// Polls until at least `n` statements on the store's schema (containing `text`) wait for a
/// lock; panics after 20 s.
async fn until_waiting(store: &Store_, n: i64, text: &str) {
    let schema = store.schema().as_str();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now = waiting(store.pool(), schema, text).await;
        if now >= n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{now} of {n} statements waiting for a lock (containing {text:?})"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn spawn_clear(
    m: &Manager<DeviceCode, Store_, FromVerifiedSubject>,
    namespace: &str,
) -> tokio::task::JoinHandle<usize> {
    let (m, namespace) = (m.clone(), ns(namespace));
    tokio::spawn(async move {
        m.operator()
            .clear_namespace(&namespace)
            .await
            .expect("clear")
    })
}

/// A complete that holds the record's row when a clear of its namespace reaches it: the
/// clear waits, the complete moves the record into `finished` and commits, and the clear
/// removes it there.
#[tokio::test]
async fn a_clear_removes_a_record_completed_while_it_waits() {
    let store = store().await;
    let m = manager(&store);
    let id = m
        .create(&Some(user("a")), spec())
        .await
        .expect("create")
        .id();
    let lock = lock_rows(&store, &[id]).await;
    let complete = {
        let m = m.clone();
        tokio::spawn(async move { m.complete_id(id).await })
    };
    until_waiting(&store, 1, "pendings").await;
    let clear = spawn_clear(&m, "a");
    until_waiting(&store, 2, "pendings").await;
    lock.commit().await.expect("commit");
    complete.await.expect("join").expect("the complete won");
    let cleared = clear.await.expect("join");
    assert!(
        store
            .get(id, SystemClock.now())
            .await
            .expect("get")
            .is_none(),
        "the completed record survived the clear"
    );
    assert_eq!(cleared, 1, "the clear counts the completed record");
}

/// The same with completes that arrive together and go as one batch statement (which locks
/// its rows by id, as the clear does): every record it moved goes with the clear.
#[tokio::test]
async fn a_clear_removes_records_a_batch_completed_while_it_waits() {
    let store = store().await;
    let m = manager(&store);
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            m.create(&Some(user("b")), spec())
                .await
                .expect("create")
                .id(),
        );
    }
    let lock = lock_rows(&store, &ids).await;
    let now = SystemClock.now();
    let mut completes = JoinSet::new();
    for id in ids.clone() {
        let store = store.clone();
        completes.spawn(async move { store.complete(id, Some(&ns("b")), now, Wake::Now).await });
    }
    // The batch statement (it joins its arguments from `unnest`) waits for the rows.
    until_waiting(&store, 1, "unnest(").await;
    let clear = spawn_clear(&m, "b");
    until_waiting(&store, 2, "pendings").await;
    lock.commit().await.expect("commit");
    while let Some(done) = completes.join_next().await {
        done.expect("join").expect("every complete won");
    }
    let cleared = clear.await.expect("join");
    for id in &ids {
        assert!(
            store.get(*id, now).await.expect("get").is_none(),
            "a record the batch completed survived the clear"
        );
    }
    assert_eq!(cleared, ids.len());
}

/// A create at the namespace bound moves the namespace's expired records into `finished`
/// (skipping rows another statement holds). A clear waiting for a lower id than an expired
/// record's has not reached it when the create moves it; the clear then removes it there.
#[tokio::test]
async fn a_clear_removes_records_a_create_moved_out_while_it_waits() {
    let store = store().await;
    let opts = Opts {
        per_namespace: 2,
        ..Opts::default()
    };
    let (m, clock) = manager_on(store.clone(), opts);
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(
            m.create(&Some(user("e")), spec())
                .await
                .expect("create")
                .id(),
        );
    }
    // The clear locks rows by id: it waits at the lower one, the higher one is left free.
    ids.sort_by_key(ToString::to_string);
    let (held, expired) = (ids[0], ids[1]);
    let lock = lock_rows(&store, &[held]).await;
    let clear = spawn_clear(&m, "e");
    until_waiting(&store, 1, "pendings").await;
    clock.advance(Duration::from_secs(11 * 60));
    // At the bound: the create moves `expired` out (not `held`: it is locked) and inserts.
    m.create(&Some(user("e")), spec()).await.expect("create");
    let now = clock.now();
    let moved = sqlx::query_scalar::<_, String>(AssertSqlSafe(format!(
        "SELECT state FROM {}.finished WHERE id = $1::uuid",
        store.schema().as_str()
    )))
    .bind(expired.to_string())
    .fetch_one(store.pool())
    .await
    .expect("the expired record was moved into finished");
    assert_eq!(moved, "expired");
    lock.commit().await.expect("commit");
    clear.await.expect("join");
    for id in [held, expired] {
        assert!(
            store.get(id, now).await.expect("get").is_none(),
            "a record of the namespace survived the clear"
        );
    }
}

/// Completes racing a clear, many rounds, alone and several at once: once both returned,
/// nothing of the namespace's records is left, whoever won each row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completes_racing_a_clear_leave_nothing_behind() {
    const ROUNDS: usize = 150;
    let store = store().await;
    let m = manager(&store);
    for round in 0..ROUNDS {
        let namespace = format!("r{round}");
        let mut ids = Vec::new();
        for _ in 0..1 + round % 4 {
            ids.push(
                m.create(&Some(user(&namespace)), spec())
                    .await
                    .expect("create")
                    .id(),
            );
        }
        let now = SystemClock.now();
        let mut completes = JoinSet::new();
        for id in ids.clone() {
            let (store, namespace) = (store.clone(), ns(&namespace));
            completes
                .spawn(async move { store.complete(id, Some(&namespace), now, Wake::Now).await });
        }
        let clear = spawn_clear(&m, &namespace);
        while let Some(done) = completes.join_next().await {
            // Won, or found the record already cleared.
            match done.expect("join") {
                Ok(_) | Err(TransitionError::NotFound) => {}
                Err(e) => panic!("round {round}: complete: {e}"),
            }
        }
        clear.await.expect("join");
        for id in &ids {
            assert!(
                store.get(*id, now).await.expect("get").is_none(),
                "round {round}: a record survived the clear"
            );
        }
    }
}
