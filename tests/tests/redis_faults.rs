//! Redis failures: a SIGKILL mid-test, operations while it is down, and a restart on the
//! same port and directory (append-only file fsynced on every write).

use std::collections::HashSet;
use std::time::Duration;

use oob::store::redis::RedisStoreError;
use oob::{AnyPending, Error, Outcome, PendingId};
use oob_tests::redis_server::{RedisServer, Replica};
use oob_tests::{DeviceCode, spec, user};

/// A bound that turns a hang into a failure; never a speed assertion.
const HANG: Duration = Duration::from_secs(60);

/// Whether the error is a store failure whose source says Redis is unavailable.
fn is_unavailable(e: &Error) -> bool {
    match e {
        Error::Store(s) => std::error::Error::source(s)
            .and_then(|src| src.downcast_ref::<RedisStoreError>())
            .is_some_and(RedisStoreError::is_unavailable),
        _ => false,
    }
}

async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(HANG, f)
        .await
        .expect("the operation hung instead of failing or succeeding")
}

/// Retries `get` until Redis answers again (the first call after a restart may still see
/// the old connection fail).
async fn until_back(m: &Replica, id: PendingId) -> AnyPending<DeviceCode> {
    bounded(async {
        loop {
            match m.get(id).await {
                Ok(p) => return p,
                Err(e) => {
                    assert!(is_unavailable(&e), "unexpected error: {e:?}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    })
    .await
}

async fn until_events(m: &Replica, connected: bool) {
    bounded(async {
        while m.store().events_connected() != connected {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn kill_and_restart_keeps_acknowledged_pendings() {
    let Some(mut server) = RedisServer::start_durable() else {
        return;
    };
    let a = server.replica("faults:").await;
    let b = server.replica("faults:").await;

    let mut open = Vec::new();
    for i in 0..20 {
        let who = if i % 2 == 0 { "alice" } else { "bob" };
        open.push(a.create(&user(who), spec()).await.expect("create").id());
    }
    let done = open.pop().expect("one");
    b.complete_id(done).await.expect("complete before the kill");
    let declined = open.pop().expect("one");
    b.cancel_id(declined, oob::state::CancelReason::Declined, None)
        .await
        .expect("decline before the kill");

    server.kill();

    // While Redis is down every operation fails with a typed store error (and returns).
    let e = bounded(a.create(&user("alice"), spec()))
        .await
        .expect_err("create while down");
    assert!(is_unavailable(&e), "{e:?}");
    let e = bounded(a.get(open[0])).await.expect_err("get while down");
    assert!(is_unavailable(&e), "{e:?}");
    let e = bounded(b.complete_id(open[0]))
        .await
        .expect_err("complete while down");
    assert!(is_unavailable(&e), "{e:?}");
    let e = bounded(a.list(&user("alice")))
        .await
        .expect_err("list while down");
    assert!(is_unavailable(&e), "{e:?}");
    let e = bounded(a.wait(open[0], Duration::from_secs(5)))
        .await
        .expect_err("wait while down");
    assert!(is_unavailable(&e), "{e:?}");
    until_events(&a, false).await;

    server.restart();

    // Everything acknowledged before the kill is there, in its state.
    assert!(matches!(
        until_back(&a, done).await,
        AnyPending::Completed(_)
    ));
    assert!(matches!(
        until_back(&b, declined).await,
        AnyPending::Cancelled(p) if p.is_declined()
    ));
    for id in &open {
        assert!(matches!(until_back(&a, *id).await, AnyPending::Open(_)));
    }
    let listed: HashSet<PendingId> = a
        .list(&user("alice"))
        .await
        .expect("list")
        .iter()
        .chain(b.list(&user("bob")).await.expect("list").iter())
        .map(oob::Pending::id)
        .collect();
    assert_eq!(listed, open.iter().copied().collect());

    // The subscribers are back: a waiter on A wakes when B completes.
    until_events(&a, true).await;
    let waited = open.pop().expect("one");
    let waiter = tokio::spawn({
        let a = a.clone();
        async move { a.wait(waited, Duration::from_secs(60)).await }
    });
    while a.store().watched() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    b.complete_id(waited).await.expect("complete after restart");
    assert!(matches!(
        bounded(waiter).await.expect("join").expect("wait"),
        Outcome::Completed(p) if p.id() == waited
    ));

    // Each remaining pending completes exactly once, raced from both replicas.
    for id in open {
        let (x, y) = tokio::join!(a.complete_id(id), b.complete_id(id));
        let wins = [&x, &y].iter().filter(|r| r.is_ok()).count();
        assert_eq!(wins, 1, "{x:?} {y:?}");
        for r in [x, y] {
            if let Err(e) = r {
                assert!(matches!(e, Error::Finished { .. }), "{e:?}");
            }
        }
    }
    assert!(matches!(
        b.complete_id(done).await,
        Err(Error::Finished { .. })
    ));
    // New work is accepted again.
    a.create(&user("carol"), spec())
        .await
        .expect("create after restart");
}

/// A server whose script cache was flushed (as after a restart without persistence, or a
/// promoted replica): every scripted operation loads its script again and works.
#[tokio::test]
async fn a_flushed_script_cache_is_reloaded() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let m = server.replica("flush:").await;
    let client = redis::Client::open(server.url()).expect("client");
    let mut raw = client
        .get_multiplexed_async_connection()
        .await
        .expect("raw connection");
    let flush = async |raw: &mut redis::aio::MultiplexedConnection| {
        redis::cmd("SCRIPT")
            .arg("FLUSH")
            .exec_async(raw)
            .await
            .expect("SCRIPT FLUSH");
    };
    flush(&mut raw).await;
    let p = m.create(&user("alice"), spec()).await.expect("create");
    let id = p.id();
    flush(&mut raw).await;
    m.complete(p).await.expect("complete");
    assert!(matches!(m.get(id).await, Ok(AnyPending::Completed(_))));
    flush(&mut raw).await;
    let q = m.create(&user("alice"), spec()).await.expect("create");
    flush(&mut raw).await;
    assert_eq!(m.list(&user("alice")).await.expect("list").len(), 1);
    assert_eq!(m.clear(&user("alice")).await.expect("clear"), 2);
    flush(&mut raw).await;
    assert_eq!(m.purge().await.expect("purge"), 0);
    assert!(matches!(m.get(q.id()).await, Err(Error::NotFound(_))));
}
