//! What the Postgres store's `counts` and events say after a purge, a create at the bound,
//! a deferred wake and a clear through another replica (each added for a change to its SQL
//! that no other test noticed, found by mutation testing).

use super::*;
use oob::store::Store;
use oob::time::Clock;
use oob::{Error, Outcome};
use oob_tests::conformance::{Opts, manager_on};
use oob_tests::{spec, user};

async fn pg_store(retention: Duration) -> PostgresStore<DeviceCode> {
    let pool = server().pool(4).await;
    PostgresServer::store(&pool, &fresh_schema(), retention).await
}

/// A purged expired record stops counting against the per-namespace bound.
#[tokio::test]
async fn a_purged_expired_record_frees_its_room() {
    let store = pg_store(Duration::from_secs(1)).await;
    let (m, clock) = manager_on(
        store,
        Opts {
            per_namespace: 1,
            ..Opts::default()
        },
    );
    m.create(&user("a"), spec().ttl(Duration::from_secs(5)))
        .await
        .expect("create");
    clock.advance(Duration::from_secs(10));
    assert_eq!(m.purge().await.expect("purge"), 1);
    m.create(&user("a"), spec())
        .await
        .expect("room once the expired record was purged");
}

/// Zero retention: an expired record is gone for reads from its deadline on, also after a
/// create at the bound moved it out of the open rows.
#[tokio::test]
async fn zero_retention_an_expired_record_stays_gone_after_a_create_at_the_bound() {
    let store = pg_store(Duration::ZERO).await;
    let (m, clock) = manager_on(
        store,
        Opts {
            per_namespace: 1,
            ..Opts::default()
        },
    );
    let old = m
        .create(&user("a"), spec().ttl(Duration::from_secs(5)))
        .await
        .expect("create")
        .id();
    clock.advance(Duration::from_secs(5));
    assert!(matches!(m.get(old).await, Err(Error::NotFound(_))));
    m.create(&user("a"), spec())
        .await
        .expect("room at the deadline");
    assert!(
        matches!(m.get(old).await, Err(Error::NotFound(_))),
        "an expired record read again after a create moved it: {:?}",
        m.get(old).await.map(|p| p.state_name())
    );
}

/// Zero retention: the wake-up of a `Wake::Later` complete forgets its record but keeps
/// counting the namespace's other open records against the bound.
#[tokio::test]
async fn zero_retention_wake_keeps_the_namespace_count() {
    let store = pg_store(Duration::ZERO).await;
    let (m, clock) = manager_on(
        store.clone(),
        Opts {
            per_namespace: 2,
            ..Opts::default()
        },
    );
    let first = m.create(&user("a"), spec()).await.expect("create").id();
    m.create(&user("a"), spec()).await.expect("create");
    let done = store
        .complete(first, None, clock.now(), oob::store::Wake::Later)
        .await
        .expect("complete");
    store.wake(&done).await.expect("wake");
    m.create(&user("a"), spec())
        .await
        .expect("room for a second open one");
    assert!(
        matches!(
            m.create(&user("a"), spec()).await,
            Err(Error::Capacity(oob::store::Scope::Namespace))
        ),
        "a third open record in a namespace bounded at 2"
    );
}

/// Two replicas on one schema: a clear through B wakes A's waiter of a cleared record by
/// its change event (at once), not at A's next periodic wake-up of every waiter.
#[tokio::test]
async fn a_clear_on_one_replica_wakes_the_waiters_of_another() {
    let server = server();
    let schema = fresh_schema();
    let retention = Duration::from_secs(300);
    let a = PostgresServer::store(&server.pool(4).await, &schema, retention).await;
    let b = PostgresServer::store(&server.pool(4).await, &schema, retention).await;
    let (ma, _) = manager_on(a.clone(), Opts::default());
    let (mb, _) = manager_on(b, Opts::default());
    // A waiter subscribes, then reads its record: a clear between the two leaves it nothing
    // to read (`NotFound`) and this case nothing to show, so it runs again (a few times).
    for attempt in 0..5 {
        let id = ma.create(&user("a"), spec()).await.expect("create").id();
        let waiter = oob_tests::spawn_wait(&ma, id, Duration::from_secs(3));
        while a.watched() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(mb.clear(&user("a")).await.expect("clear on B"), 1);
        match waiter.await.expect("join") {
            Ok(Outcome::Removed(x)) => {
                assert_eq!(x, id);
                return;
            }
            Err(Error::NotFound(_)) if attempt < 4 => {}
            other => panic!("A's waiter got no event of B's clear: {other:?}"),
        }
    }
}
