//! With zero retention a completion's event carries the finished row: the record is gone
//! from the tables, so the event is where a waiter on another replica learns the outcome.
//! A row too long for one notification (8,000 bytes) goes in pieces and is put back
//! together by the listener, so that waiter gets the outcome and its data, never
//! `Removed` (which it got for any row of 7,000 bytes or more before).

use std::sync::Arc;

use super::*;
use oob::provider::FromVerifiedSubject;
use oob::time::SystemClock;
use oob::{CallbackBase, Manager, Outcome, Spec};
use oob_tests::{device_code, spec, user};

type M = Manager<DeviceCode, PostgresStore<DeviceCode>, FromVerifiedSubject>;

fn manager(store: PostgresStore<DeviceCode>) -> Arc<M> {
    Arc::new(
        Manager::builder()
            .store(store)
            .provider(FromVerifiedSubject)
            .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
            .clock(SystemClock)
            .build(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_waiter_gets_an_outcome_too_long_for_one_notification() {
    let schema = fresh_schema();
    let (pool_a, pool_b) = (server().pool(4).await, server().pool(4).await);
    let a = manager(PostgresServer::store(&pool_a, &schema, Duration::ZERO).await);
    let b = manager(PostgresServer::store(&pool_b, &schema, Duration::ZERO).await);
    // 100 characters (one notification), then about 40 kB and 400 kB of JSON (pieces).
    for len in [100, 20_000, 200_000] {
        let data = DeviceCode {
            message: "é".repeat(len),
            ..device_code()
        };
        let p = a
            .create(&user("alice"), Spec::new(data.clone()))
            .await
            .expect("create");
        let id = p.id();
        let waiter = {
            let b = b.clone();
            tokio::spawn(async move { b.wait(id, Duration::from_secs(30)).await })
        };
        while b.store().watched() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        a.complete(p).await.expect("complete");
        match waiter.await.expect("waiter") {
            Ok(Outcome::Completed(done)) => {
                assert_eq!(done.id(), id);
                assert_eq!(
                    done.data().message,
                    data.message,
                    "{len}: the data came whole"
                );
            }
            other => panic!("{len}: expected the completion, got {other:?}"),
        }
        assert!(a.get(id).await.is_err(), "{len}: gone from the tables");
    }
}

/// Rows left half put together do not fill the listener: 70 waiters on replica B are each
/// sent the first piece of a row whose rest never comes (as a waiter that gave up, or a
/// batch the sender dropped, would leave), then their pendings complete with short rows;
/// a long row after that still reaches its waiter whole (the 64-row limit was full of the
/// leftovers, and it got `Removed`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_left_half_put_together_do_not_stop_later_rows() {
    let schema = fresh_schema();
    let (pool_a, pool_b) = (server().pool(4).await, server().pool(4).await);
    let a = manager(PostgresServer::store(&pool_a, &schema, Duration::ZERO).await);
    let b = manager(PostgresServer::store(&pool_b, &schema, Duration::ZERO).await);
    let channel = format!("{schema}_events");
    let wait_on_b = |id| {
        let b = b.clone();
        tokio::spawn(async move { b.wait(id, Duration::from_secs(30)).await })
    };
    for _ in 0..70 {
        let p = a.create(&user("alice"), spec()).await.expect("create");
        let waiter = wait_on_b(p.id());
        while b.store().watched() == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(&channel)
            .bind(format!("{} 1/2:{{", p.id()))
            .execute(&pool_a)
            .await
            .expect("notify");
        a.complete(p).await.expect("complete");
        let got = waiter.await.expect("waiter");
        assert!(matches!(got, Ok(Outcome::Completed(_))), "{got:?}");
    }
    let data = DeviceCode {
        message: "x".repeat(20_000),
        ..device_code()
    };
    let p = a
        .create(&user("alice"), Spec::new(data.clone()))
        .await
        .expect("create");
    let waiter = wait_on_b(p.id());
    while b.store().watched() == 0 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    a.complete(p).await.expect("complete");
    match waiter.await.expect("waiter") {
        Ok(Outcome::Completed(done)) => assert_eq!(done.data().message, data.message),
        other => panic!("expected the completion, got {other:?}"),
    }
}
