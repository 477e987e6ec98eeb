//! The Redis store's capacity bounds when replicas' clocks differ: a record finished by a
//! replica whose clock is ahead is scored in the indexes by that replica's finish time,
//! later than another replica's `now`; it must still never count as open toward either
//! bound (as on every other store), and its retention still runs from its finish time.
//! The same holds within one store, for a create whose `now` was read just before a racing
//! complete's.
//!
//! Without `redis-server` installed the binary skips with a notice (unless `CI` is set:
//! then it fails).

use std::time::Duration;

use oob::store::{RedisStore, Scope};
use oob::{AnyPending, Error};
use oob_tests::conformance::{ConfManager, ManualClock, Opts, manager_on};
use oob_tests::redis_server::RedisServer;
use oob_tests::{DeviceCode, spec, user};

/// How far the clock of replica A runs ahead of replica B's.
const AHEAD: Duration = Duration::from_secs(2);

async fn store(server: &RedisServer, prefix: &str, retention: Duration) -> RedisStore<DeviceCode> {
    let client = redis::Client::open(server.url()).expect("client");
    RedisStore::builder(client)
        .prefix(prefix)
        .retention(retention)
        .connect()
        .await
        .expect("connect")
}

type Replica = (ConfManager<RedisStore<DeviceCode>>, ManualClock);

/// Two replicas on one prefix (each its own store and clock), A's clock `AHEAD` of B's.
async fn replicas(server: &RedisServer, prefix: &str, opts: Opts) -> (Replica, Replica) {
    let a = manager_on(store(server, prefix, Duration::from_secs(5)).await, opts);
    let b = manager_on(store(server, prefix, Duration::from_secs(5)).await, opts);
    // Both clocks started at the real time, B's last (so not before A's).
    a.1.advance(AHEAD);
    (a, b)
}

fn is_capacity<P>(r: &Result<P, Error>, scope: Scope) -> bool {
    matches!(r, Err(Error::Capacity(s)) if *s == scope)
}

#[tokio::test]
async fn a_record_finished_by_a_replica_ahead_does_not_hold_the_namespace_bound() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let opts = Opts {
        per_namespace: 1,
        ..Opts::default()
    };
    let ((a, _), (b, _)) = replicas(&server, "{skew-ns}:", opts).await;
    let ns = user("n");
    // Completed by the replica that created it (`finish.lua`).
    let p = a.create(&ns, spec()).await.expect("create");
    a.complete(p).await.expect("complete");
    let q = b
        .create(&ns, spec())
        .await
        .expect("not held by a record A finished");
    // The open one holds the bound, on both replicas.
    assert!(is_capacity(&b.create(&ns, spec()).await, Scope::Namespace));
    assert!(is_capacity(&a.create(&ns, spec()).await, Scope::Namespace));
    // Cancelled by the other replica (`transition.lua`).
    let Ok(AnyPending::Open(q)) = a.get(q.id()).await else {
        panic!("open on replica A");
    };
    a.cancel(q).await.expect("cancel");
    let r = b
        .create(&ns, spec())
        .await
        .expect("not held by a record A cancelled");
    assert!(is_capacity(&b.create(&ns, spec()).await, Scope::Namespace));
    let listed = b.list(&ns).await.expect("list");
    assert_eq!(
        listed.iter().map(oob::Pending::id).collect::<Vec<_>>(),
        vec![r.id()]
    );
}

#[tokio::test]
async fn a_record_finished_by_a_replica_ahead_does_not_hold_the_total_bound() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let opts = Opts {
        total: 1,
        ..Opts::default()
    };
    let ((a, _), (b, _)) = replicas(&server, "{skew-all}:", opts).await;
    let p = a.create(&user("a"), spec()).await.expect("create");
    a.complete(p).await.expect("complete");
    let q = b
        .create(&user("b"), spec())
        .await
        .expect("not held by a record A finished");
    assert!(is_capacity(
        &b.create(&user("c"), spec()).await,
        Scope::Total
    ));
    assert!(is_capacity(
        &a.create(&user("c"), spec()).await,
        Scope::Total
    ));
    let Ok(AnyPending::Open(q)) = a.get(q.id()).await else {
        panic!("open on replica A");
    };
    a.complete(q).await.expect("complete");
    b.create(&user("d"), spec())
        .await
        .expect("not held by a record A completed");
    assert!(is_capacity(
        &b.create(&user("e"), spec()).await,
        Scope::Total
    ));
}

/// One store, two clocks: a create whose `now` is before the finish time of a complete that
/// ran first (as when a create read its clock just before a racing complete read its own).
#[tokio::test]
async fn a_complete_later_than_a_creates_now_does_not_hold_a_bound() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let opts = Opts {
        per_namespace: 1,
        total: 2,
        ..Opts::default()
    };
    let s = store(&server, "{skew-race}:", Duration::from_secs(5)).await;
    let (late, late_clock) = manager_on(s.clone(), opts);
    let (early, _) = manager_on(s, opts);
    late_clock.advance(Duration::from_millis(20));
    let p = late.create(&user("a"), spec()).await.expect("create");
    late.complete(p).await.expect("complete");
    let q = late.create(&user("b"), spec()).await.expect("create");
    late.cancel(q).await.expect("cancel");
    early
        .create(&user("a"), spec())
        .await
        .expect("not held by the completed record");
    early
        .create(&user("b"), spec())
        .await
        .expect("not held by the cancelled record");
    assert!(is_capacity(
        &early.create(&user("c"), spec()).await,
        Scope::Total
    ));
}

/// A create at a bound that meets a record finished ahead of its clock does not change when
/// that record is forgotten: its retention runs from its finish time, as the purge of any
/// replica finds it.
#[tokio::test]
async fn the_retention_of_a_record_finished_ahead_runs_from_its_finish_time() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let opts = Opts {
        per_namespace: 1,
        ..Opts::default()
    };
    let ((a, a_clock), (b, b_clock)) = replicas(&server, "{skew-purge}:", opts).await;
    let ns = user("n");
    let p = a.create(&ns, spec()).await.expect("create");
    let done = a.complete(p).await.expect("complete");
    b.create(&ns, spec())
        .await
        .expect("not held by a finished record");
    // Five seconds of retention: 5.5 s on B's clock is before it ends (A finished 2 s
    // ahead), so B's purge keeps it and A reads it.
    b_clock.advance(Duration::from_millis(5_500));
    assert_eq!(b.purge().await.expect("purge"), 0);
    a_clock.advance(Duration::from_millis(4_900));
    assert!(
        matches!(a.get(done.id()).await, Ok(AnyPending::Completed(_))),
        "readable within its retention"
    );
    // 7.5 s on B's clock is after it: forgotten (the open record stays).
    b_clock.advance(Duration::from_secs(2));
    assert_eq!(b.purge().await.expect("purge"), 1);
    assert!(a.get(done.id()).await.is_err());
    assert_eq!(b.list(&ns).await.expect("list").len(), 1);
}

/// At a bound above one, records finished ahead sit between open ones in the index (one
/// expiring before they finished, one after): each is discounted, every open one counted.
#[tokio::test]
async fn finished_records_between_open_ones_are_discounted() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    for (opts, scope) in [
        (
            Opts {
                per_namespace: 3,
                ..Opts::default()
            },
            Scope::Namespace,
        ),
        (
            Opts {
                total: 3,
                ..Opts::default()
            },
            Scope::Total,
        ),
    ] {
        let prefix = format!("{{skew-mixed-{scope}}}:");
        let ((a, _), (b, _)) = replicas(&server, &prefix, opts).await;
        let ns = user("n");
        // Due 1 s from B's now: before A's finishes (2 s ahead).
        b.create(&ns, spec().ttl(Duration::from_secs(1)))
            .await
            .expect("create");
        for _ in 0..2 {
            let p = a.create(&ns, spec()).await.expect("create");
            a.complete(p).await.expect("complete");
        }
        b.create(&ns, spec()).await.expect("create");
        b.create(&ns, spec())
            .await
            .expect("two open: the finished ones do not count");
        assert!(is_capacity(&b.create(&ns, spec()).await, scope), "{scope}");
        assert_eq!(b.list(&ns).await.expect("list").len(), 3);
    }
}

/// A finish marker at or after the deadline came too late: the record reads open until its
/// deadline, so it holds a bound until then, however far ahead the marker's time is.
#[tokio::test]
async fn a_marker_after_the_deadline_does_not_free_a_bound_early() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let prefix = "{skew-late}:";
    let opts = Opts {
        per_namespace: 1,
        ..Opts::default()
    };
    let ((_, _), (b, b_clock)) = replicas(&server, prefix, opts).await;
    let ns = user("n");
    let p = b.create(&ns, spec()).await.expect("create");
    let deadline = p
        .expires_at()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    let mut c = server.raw().await;
    let _: i64 = redis::cmd("HSETNX")
        .arg(format!("{prefix}device_code:p:{}", p.id()))
        .arg("f")
        .arg(format!("c{deadline}"))
        .query_async(&mut c)
        .await
        .expect("HSETNX");
    assert!(is_capacity(&b.create(&ns, spec()).await, Scope::Namespace));
    // Past the deadline it is expired: the bound is free.
    b_clock.advance(Duration::from_secs(601));
    b.create(&ns, spec())
        .await
        .expect("the late record expired");
}
