//! Postgres failures: the server stopped with `pg_ctl stop -m immediate` mid-run and
//! restarted, and a replica's listener cut off while the others keep writing.
//!
//! While Postgres is down every operation fails with a typed error (a
//! [`PgError`] that [`is_unavailable`](PgError::is_unavailable)); nothing committed before
//! is lost; nothing completes twice; waiters are woken after the restart, also when the
//! event of their completion was sent while their replica's listener was away.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use oob::provider::FromVerifiedSubject;
use oob::store::postgres::PgError;
use oob::store::{PostgresStore, StoreError};
use oob::time::SystemClock;
use oob::vault::{PostgresVault, Vault};
use oob::{AnyPending, CallbackBase, Error, Manager, Outcome, PendingId};
use oob_tests::postgres_server::{PostgresServer, fresh_schema};
use oob_tests::{DeviceCode, spawn_wait, spec, user};

type Replica = Manager<DeviceCode, PostgresStore<DeviceCode>, FromVerifiedSubject>;

fn replica(store: PostgresStore<DeviceCode>) -> Replica {
    Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("valid base"))
        .clock(SystemClock)
        .build()
}

/// Whether the error is a store failure whose source is an unavailable Postgres.
fn unavailable<T: std::fmt::Debug>(r: &Result<T, Error>) -> bool {
    match r {
        Err(Error::Store(StoreError::Backend(source))) => source
            .downcast_ref::<PgError>()
            .is_some_and(PgError::is_unavailable),
        _ => false,
    }
}

/// Retries `f` until it succeeds (the pool reconnecting after a restart), for up to 30 s.
async fn until_ok<T, F, Fut>(mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let start = Instant::now();
    loop {
        match f().await {
            Ok(v) => return v,
            Err(Error::Store(_)) if start.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("still failing after the restart: {e:?}"),
        }
    }
}

/// Of `n` completers of `id` spread over both replicas exactly one wins.
async fn exactly_one_completes(a: &Replica, b: &Replica, id: PendingId, n: usize) {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let m = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { m.complete_id(id).await })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        match t.await.expect("join") {
            Ok(_) => won += 1,
            Err(Error::Finished { .. }) => {}
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    assert_eq!(won, 1, "exactly one completer of {id} wins");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_mid_run_then_restarted() {
    let Some(mut server) = PostgresServer::start() else {
        return;
    };
    let schema = fresh_schema();
    let retention = Duration::from_secs(300);
    let store_a = PostgresServer::store(&server.pool(8).await, &schema, retention).await;
    let store_b = PostgresServer::store(&server.pool(8).await, &schema, retention).await;
    let (a, b) = (replica(store_a.clone()), replica(store_b.clone()));
    let vault = PostgresVault::<String>::new(server.pool(4).await, &schema).expect("vault");

    // Committed before the stop: a completion, open pendings, a vault entry.
    let done = a.create(&user("u"), spec()).await.expect("create");
    let done_id = done.id();
    let writer = vault.clone();
    a.complete_with(done, async move |token| {
        writer.put(&token, "token", "s3cret".into()).await
    })
    .await
    .expect("complete_with");
    let mut open = HashSet::new();
    for _ in 0..5 {
        open.insert(a.create(&user("u"), spec()).await.expect("create").id());
    }
    let waited = b.create(&user("w"), spec()).await.expect("create").id();
    let waiter = spawn_wait(&b, waited, Duration::from_secs(120));
    tokio::time::sleep(Duration::from_millis(100)).await;

    server.stop_immediate();

    // Down: every operation fails with a typed error, nothing half-done.
    let some_open = *open.iter().next().expect("open");
    assert!(unavailable(&a.create(&user("u"), spec()).await));
    assert!(unavailable(&a.get(some_open).await));
    assert!(unavailable(&b.complete_id(some_open).await));
    assert!(unavailable(&a.list(&user("u")).await));
    let alice = user("u");
    let down_token = a.caller(&alice).expect("caller");
    let read = vault.get(&down_token, "token").await;
    assert!(read.is_err(), "{read:?}");
    assert!(
        !waiter.is_finished(),
        "the waiter keeps waiting while Postgres is down"
    );

    server.restart();

    // The waited-on pending completes on A as soon as A reaches the server again; B's
    // waiter is woken (by the event, or by B's listener waking its waiters after it
    // reconnected, had the event gone out before it listened again).
    until_ok(|| a.complete_id(waited)).await;
    let out = tokio::time::timeout(Duration::from_secs(20), waiter)
        .await
        .expect("the waiter is woken after the restart")
        .expect("join")
        .expect("wait");
    assert!(matches!(out, Outcome::Completed(p) if p.id() == waited));

    // Nothing committed is lost.
    assert!(matches!(a.get(done_id).await, Ok(AnyPending::Completed(_))));
    let u = user("u");
    let listed: HashSet<_> = until_ok(|| b.list(&u))
        .await
        .iter()
        .map(oob::Pending::id)
        .collect();
    assert_eq!(
        listed, open,
        "the open pendings, and only them (no create while down)"
    );
    let token = b.caller(&u).expect("caller");
    assert_eq!(
        vault.get(&token, "token").await.expect("read").as_deref(),
        Some("s3cret")
    );

    // Nothing completes twice: the completed ones refuse, an open one completes once.
    assert!(matches!(
        b.complete_id(done_id).await,
        Err(Error::Finished { .. })
    ));
    assert!(matches!(
        b.complete_id(waited).await,
        Err(Error::Finished { .. })
    ));
    exactly_one_completes(&a, &b, some_open, 100).await;
    // The listeners reconnect with a backoff (at most 2 s between attempts).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !(store_a.events_connected() && store_b.events_connected()) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the listeners did not reconnect within 10 s of the restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A replica whose listener cannot reconnect misses the event of a completion made on
/// another replica; once it listens again it wakes its waiters, which find the outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_whose_event_was_lost_is_woken_after_the_reconnect() {
    let Some(server) = PostgresServer::start() else {
        return;
    };
    let admin = server.pool(4).await;
    sqlx::query("CREATE ROLE replica_b SUPERUSER LOGIN")
        .execute(&admin)
        .await
        .expect("create role");
    let schema = fresh_schema();
    let retention = Duration::from_secs(300);
    let store_a = PostgresServer::store(&server.pool(8).await, &schema, retention).await;
    let store_b =
        PostgresServer::store(&server.pool_as("replica_b", 8).await, &schema, retention).await;
    let (a, b) = (replica(store_a), replica(store_b.clone()));
    let id = b.create(&user("w"), spec()).await.expect("create").id();
    let waiter = spawn_wait(&b, id, Duration::from_secs(120));
    tokio::time::sleep(Duration::from_millis(100)).await;

    // B can no longer log in; its connections (the listener's among them) are cut.
    sqlx::query("ALTER ROLE replica_b NOLOGIN")
        .execute(&admin)
        .await
        .expect("nologin");
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'replica_b'",
    )
    .execute(&admin)
    .await
    .expect("terminate");
    let start = Instant::now();
    while store_b.events_connected() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "B's listener noticed the cut"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // Completed on A while B is not listening: B never gets this event.
    a.complete_id(id).await.expect("complete");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiter.is_finished(), "no event reached B");

    // B may log in again: its listener reconnects and wakes its waiters once.
    sqlx::query("ALTER ROLE replica_b LOGIN")
        .execute(&admin)
        .await
        .expect("login");
    let out = tokio::time::timeout(Duration::from_secs(20), waiter)
        .await
        .expect("the waiter is woken once B listens again")
        .expect("join")
        .expect("wait");
    assert!(matches!(out, Outcome::Completed(p) if p.id() == id));
    assert!(store_b.events_connected());
}
