//! The Redis store's scripts on malformed record hashes (a field deleted or overwritten by
//! hand, or by a bug): a purge never fails on one and forgets it by its index score, like any
//! other, so it cannot stop every later purge; a create at a bound, or after a decline, whose
//! checks meet a finish marker that does not parse gets a typed answer, never a script error.
//!
//! Without `redis-server` installed the binary skips with a notice (unless `CI` is set:
//! then it fails).

use std::time::Duration;

use oob::store::{RedisStore, Scope};
use oob::{Error, Joined};
use oob_tests::conformance::{ConfManager, ManualClock, Opts, manager_on};
use oob_tests::redis_server::{RedisServer, keys_under};
use oob_tests::{DeviceCode, spec, user};

type Conn = redis::aio::MultiplexedConnection;

type Conf = ConfManager<RedisStore<DeviceCode>>;

async fn store(server: &RedisServer, prefix: &str) -> RedisStore<DeviceCode> {
    let client = redis::Client::open(server.url()).expect("client");
    RedisStore::builder(client)
        .prefix(prefix)
        .retention(Duration::from_secs(5))
        .connect()
        .await
        .expect("connect")
}

async fn setup(server: &RedisServer, prefix: &str, opts: Opts) -> (Conf, ManualClock, Conn) {
    let (m, clock) = manager_on(store(server, prefix).await, opts);
    (m, clock, server.raw().await)
}

fn record_key(prefix: &str, id: impl std::fmt::Display) -> String {
    format!("{prefix}device_code:p:{id}")
}

/// Overwrites (or, with `None`, deletes) one field of a record's hash.
async fn set_field(c: &mut Conn, key: &str, field: &str, value: Option<&str>) {
    let cmd = match value {
        Some(v) => {
            let mut cmd = redis::cmd("HSET");
            cmd.arg(key).arg(field).arg(v);
            cmd
        }
        None => {
            let mut cmd = redis::cmd("HDEL");
            cmd.arg(key).arg(field);
            cmd
        }
    };
    let changed: i64 = cmd.query_async(c).await.expect("HSET/HDEL");
    assert!(value.is_some() || changed == 1, "{field} was not there");
}

#[tokio::test]
async fn a_purge_forgets_malformed_records_by_their_score_and_the_healthy_ones_too() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let prefix = "{bad}:";
    let (m, clock, mut c) = setup(&server, prefix, Opts::default()).await;
    // Purged by a manager that created nothing (a sweeper process), so that only the store's
    // purge reads the records (with `metrics`, a manager's purge first reads the records it
    // created that are past their deadline).
    let (sweeper, sweeper_clock) = manager_on(store(&server, prefix).await, Opts::default());
    let (a, b) = (user("a"), user("b"));
    // Five malformed records and two healthy ones (one completed, one left to expire), all
    // in one purge batch (a script error on any of them would fail the whole batch).
    let mut malformed = Vec::new();
    for (field, value) in [
        ("e", None),
        ("e", Some("soon")),
        ("f", Some("cZZ")),
        ("k", None),
        ("n", None),
    ] {
        let p = m.create(&a, spec()).await.expect("create");
        set_field(&mut c, &record_key(prefix, p.id()), field, value).await;
        malformed.push(p.id());
    }
    let done = m.create(&b, spec().alias("x")).await.expect("create");
    let done = m.complete(done).await.expect("complete").id();
    let open = m.create(&b, spec()).await.expect("create").id();
    // Before any retention window ended, a purge forgets nothing, malformed or not.
    assert_eq!(sweeper.purge().await.expect("an early purge"), 0);
    for id in &malformed {
        let exists: i64 = redis::cmd("EXISTS")
            .arg(record_key(prefix, id))
            .query_async(&mut c)
            .await
            .expect("EXISTS");
        assert_eq!(exists, 1, "forgotten before its score and retention came");
    }
    // Past every deadline (10 minutes) and the retention after it.
    for clock in [&clock, &sweeper_clock] {
        clock.advance(Duration::from_secs(600) + Duration::from_secs(6));
    }
    assert_eq!(sweeper.purge().await.expect("purge"), 7);
    for id in [done, open] {
        assert!(m.get(id).await.is_err(), "a healthy record was not purged");
    }
    // Every record and index entry is gone (the namespace, store and dedup indexes).
    let left = keys_under(&mut c, prefix).await;
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// A record whose re-score was lost (scored by its deadline) with a finish marker whose time
/// does not parse: a create at the namespace bound counts it as open, as it is scored.
#[tokio::test]
async fn a_create_at_the_bound_skips_a_marker_that_does_not_parse() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let prefix = "{badcap}:";
    let opts = Opts {
        per_namespace: 1,
        ..Opts::default()
    };
    let (m, _clock, mut c) = setup(&server, prefix, opts).await;
    let a = user("a");
    let p = m.create(&a, spec()).await.expect("create");
    set_field(&mut c, &record_key(prefix, p.id()), "f", Some("cZZ")).await;
    match m.create(&a, spec()).await {
        Err(Error::Capacity(Scope::Namespace)) => {}
        other => panic!("expected Capacity(Namespace), got {other:?}"),
    }
    // Another namespace is not held.
    m.create(&user("b"), spec()).await.expect("create");
}

/// The latest decline of a key whose marker does not parse gives no cooldown: the next
/// create of the key is created, not an error.
#[tokio::test]
async fn a_create_after_a_decline_whose_marker_does_not_parse_is_created() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let prefix = "{baddecl}:";
    let opts = Opts {
        cooldown: Duration::from_secs(60),
        ..Opts::default()
    };
    let (m, _clock, mut c) = setup(&server, prefix, opts).await;
    let a = user("a");
    let p = m
        .create_or_join(&a, spec().alias("gh"))
        .await
        .expect("create")
        .into_open()
        .expect("created");
    let id = m.decline(p).await.expect("decline").id();
    set_field(&mut c, &record_key(prefix, id), "f", Some("dZZ")).await;
    match m.create_or_join(&a, spec().alias("gh")).await {
        Ok(Joined::Created(q)) => assert_ne!(q.id(), id),
        other => panic!("expected a new pending, got {other:?}"),
    }
}

/// A transition that takes `transition.lua` (here a decline) on a record whose finish marker
/// or deadline does not parse answers a typed decode error and writes nothing.
#[tokio::test]
async fn a_transition_on_a_marker_or_deadline_that_does_not_parse_is_a_decode_error() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let prefix = "{badtr}:";
    let (m, _clock, mut c) = setup(&server, prefix, Opts::default()).await;
    let a = user("a");
    for (field, value) in [
        ("f", "cZZ"),
        ("f", "c1e15"),
        ("e", "soon"),
        ("e", "nan"),
        ("e", "1e15"),
    ] {
        let p = m.create(&a, spec()).await.expect("create");
        let key = record_key(prefix, p.id());
        set_field(&mut c, &key, field, Some(value)).await;
        match m.decline(p).await {
            Err(Error::Store(oob::store::StoreError::Decode(_))) => {}
            other => panic!("{field}={value}: expected a decode error, got {other:?}"),
        }
        let kept: Option<String> = redis::cmd("HGET")
            .arg(&key)
            .arg(field)
            .query_async(&mut c)
            .await
            .expect("HGET");
        assert_eq!(kept.as_deref(), Some(value), "nothing written");
    }
}

/// A clear meets a record whose dedup key was deleted: it removes the record, its index
/// entries and the rest of the namespace, and answers the count (it failed half-way).
#[tokio::test]
async fn a_clear_removes_a_record_without_its_dedup_key() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let prefix = "{badclear}:";
    let (m, _clock, mut c) = setup(&server, prefix, Opts::default()).await;
    let a = user("a");
    let bad = m.create(&a, spec()).await.expect("create");
    m.create(&a, spec()).await.expect("create");
    set_field(&mut c, &record_key(prefix, bad.id()), "k", None).await;
    let ns = oob::Namespace::new("a").expect("namespace");
    assert_eq!(m.operator().clear_namespace(&ns).await.expect("clear"), 2);
    let left: Vec<String> = keys_under(&mut c, prefix)
        .await
        .into_iter()
        .filter(|k| k.contains(":p:"))
        .collect();
    assert!(left.is_empty(), "records left: {left:?}");
}
