//! Two replicas of a service: two managers, each on its own `RedisStore` (its own
//! connections and event subscriber), over one Redis.

use std::collections::HashSet;
use std::time::Duration;

use oob::{Error, Joined, Outcome, PendingId};
use oob_tests::DeviceCode;
use oob_tests::redis_server::{RedisServer, Replica};
use oob_tests::{spec, user};
use tokio::task::JoinHandle;

async fn pair(server: &RedisServer) -> (Replica, Replica) {
    (server.replica("rep:").await, server.replica("rep:").await)
}

/// A waiter on `r` for `id`, once it is registered (so its wake-up must come over pub/sub:
/// `r`'s periodic re-read is half the retention away, past the wait's bound).
async fn waiting(r: &Replica, id: PendingId) -> JoinHandle<Result<Outcome<DeviceCode>, Error>> {
    let waiter = oob_tests::spawn_wait(r, id, Duration::from_secs(30));
    while r.store().watched() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    waiter
}

/// A waiter on replica A wakes with the outcome when replica B completes.
#[tokio::test]
async fn waiter_on_a_wakes_when_b_completes() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (a, b) = pair(&server).await;
    let p = a.create(&user("alice"), spec()).await.expect("create on A");
    let id = p.id();
    let waiter = waiting(&a, id).await;
    let done = b.complete_id(id).await.expect("complete on B");
    assert_eq!(done.namespace(), &oob_tests::ns("alice"));
    match waiter.await.expect("join").expect("wait") {
        Outcome::Completed(p) => {
            assert_eq!(p.id(), id);
            assert_eq!(p.data(), &oob_tests::device_code());
        }
        other => panic!("expected completed, got {other:?}"),
    }
    // Cancels and declines travel the same way.
    let q = a.create(&user("alice"), spec()).await.expect("create");
    let qid = q.id();
    let waiter = waiting(&a, qid).await;
    b.decline(b.open(qid).await.expect("open on B"))
        .await
        .expect("decline on B");
    assert!(matches!(
        waiter.await.expect("join").expect("wait"),
        Outcome::Declined(p) if p.id() == qid
    ));
}

/// A waiter on replica B wakes by event when A completes a record A itself created (A's
/// one-round-trip `finish.lua` path), not only at its next periodic re-read (found by
/// mutation testing: `finish.lua` without its `PUBLISH` passed every other test).
#[tokio::test]
async fn waiter_on_b_wakes_when_the_creator_a_completes() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (a, b) = pair(&server).await;
    let p = a.create(&user("alice"), spec()).await.expect("create on A");
    let id = p.id();
    let waiter = waiting(&b, id).await;
    // A created it, so its complete takes `finish.lua`.
    a.complete(p).await.expect("complete on A");
    match waiter.await.expect("join").expect("wait") {
        Outcome::Completed(done) => assert_eq!(done.id(), id),
        other => panic!("B's waiter got no event from A's complete: {other:?}"),
    }
}

/// `complete_with` on B (deferred wake) releases A's waiter only after persisting.
#[tokio::test]
async fn deferred_wake_crosses_replicas() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (a, b) = pair(&server).await;
    let vault = oob::vault::MemoryVault::<String>::new();
    let p = a.create(&user("alice"), spec()).await.expect("create");
    let id = p.id();
    let waiter = tokio::spawn({
        let a = a.clone();
        let vault = vault.clone();
        async move {
            let out = a.wait(id, Duration::from_secs(60)).await;
            // The tool call on A reads with its own verified caller's capability.
            let alice = user("alice");
            let token = a.caller(&alice).expect("caller");
            let found = oob::vault::Vault::get(&vault, &token, "k").await;
            (out, found.expect("vault"))
        }
    });
    while a.store().watched() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let open = b.open(id).await.expect("open on B");
    let writer = vault.clone();
    b.complete_with(open, async move |token| {
        tokio::time::sleep(Duration::from_millis(50)).await;
        oob::vault::Vault::put(&writer, &token, "k", "v".to_string()).await
    })
    .await
    .expect("complete_with on B");
    let (out, found) = waiter.await.expect("join");
    assert!(matches!(out.expect("wait"), Outcome::Completed(_)));
    assert_eq!(found.as_deref(), Some("v"));
}

/// 200 concurrent completers, half on each replica: exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_completes_across_replicas_exactly_one_wins() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (a, b) = pair(&server).await;
    for _ in 0..3 {
        let id = a.create(&user("alice"), spec()).await.expect("create").id();
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let m = if i % 2 == 0 { a.clone() } else { b.clone() };
                tokio::spawn(async move { m.complete_id(id).await })
            })
            .collect();
        let mut won = 0;
        for t in tasks {
            match t.await.expect("join") {
                Ok(done) => {
                    assert_eq!(done.id(), id);
                    won += 1;
                }
                Err(Error::Finished { .. }) => {}
                Err(e) => panic!("unexpected error: {e:?}"),
            }
        }
        assert_eq!(won, 1);
    }
}

/// `create_or_join` from both replicas at once yields one pending, seen by both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedup_across_replicas() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (a, b) = pair(&server).await;
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let m = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { m.create_or_join(&user("alice"), spec().alias("gh")).await })
        })
        .collect();
    let mut ids = HashSet::new();
    let mut created = 0;
    for t in tasks {
        let j = t.await.expect("join").expect("create_or_join");
        if matches!(j, Joined::Created(_)) {
            created += 1;
        }
        ids.insert(j.into_open().expect("open").id());
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1);
    let listed_a: HashSet<_> = a
        .list(&user("alice"))
        .await
        .expect("list on A")
        .iter()
        .map(oob::Pending::id)
        .collect();
    let listed_b: HashSet<_> = b
        .list(&user("alice"))
        .await
        .expect("list on B")
        .iter()
        .map(oob::Pending::id)
        .collect();
    assert_eq!(listed_a, ids);
    assert_eq!(listed_b, ids);
    // Once B completes it, A creates a new one for the key.
    let id = *ids.iter().next().expect("one id");
    b.complete_id(id).await.expect("complete on B");
    let again = a
        .create_or_join(&user("alice"), spec().alias("gh"))
        .await
        .expect("create_or_join");
    assert!(matches!(again, Joined::Created(ref p) if p.id() != id));
}

/// Another payload kind, to share the prefix with `DeviceCode`.
#[derive(Debug, Clone, PartialEq, Eq, oob::OobPayload, serde::Serialize, serde::Deserialize)]
#[oob(kind = "other_kind", route = "/oob/other/{id}")]
struct Other {
    n: u32,
}

/// Two payload kinds on one prefix keep apart: a record read, completed or listed with the
/// other kind is not found, and each kind's capacity counts only its own.
#[tokio::test]
async fn payload_kinds_on_one_prefix_do_not_see_each_other() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let devices = server.replica("kinds:").await;
    let client = redis::Client::open(server.url()).expect("client");
    let store = oob::store::RedisStore::<Other>::builder(client)
        .prefix("kinds:")
        .connect()
        .await
        .expect("connect");
    let others = oob::Manager::builder()
        .store(store)
        .provider(oob::provider::FromVerifiedSubject)
        .callback_base(oob::CallbackBase::parse("https://ex.com").expect("base"))
        .max_open_per_namespace(1)
        .build();
    let d = devices
        .create(&user("alice"), spec())
        .await
        .expect("device");
    assert!(matches!(others.get(d.id()).await, Err(Error::NotFound(_))));
    assert!(matches!(
        others.complete_id(d.id()).await,
        Err(Error::NotFound(_))
    ));
    // The device pending does not count against the other kind's bound of one.
    let o = others
        .create(&user("alice"), oob::Spec::new(Other { n: 7 }))
        .await
        .expect("other");
    assert!(others.list(&user("alice")).await.expect("list").len() == 1);
    assert!(matches!(devices.get(o.id()).await, Err(Error::NotFound(_))));
    assert_eq!(devices.list(&user("alice")).await.expect("list").len(), 1);
    devices.complete(d).await.expect("still open");
}
