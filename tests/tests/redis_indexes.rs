//! The Redis store's keys: no index entry outlives its record, the store purges by
//! itself, and a finish marker alone (a completer that stopped between its two steps)
//! decides what every reader sees; a bound is not held by a finished record whose re-score
//! was lost, an unknown id writes nothing, and another replica's complete moves the record;
//! a record forgotten at once leaves no dedup entry, and a latest-decline key lives for the
//! retention window, not forever.
//!
//! Without `redis-server` installed the binary skips with a notice (unless `CI` is set:
//! then it fails).

use std::time::Duration;

use oob::provider::FromVerifiedSubject;
use oob::store::{Finished, RedisStore};
use oob::time::{Clock, SystemClock};
use oob::{AnyPending, CallbackBase, Manager};
use oob_tests::conformance::{Opts, manager_on};
use oob_tests::redis_server::{RedisServer, keys_under};
use oob_tests::{DeviceCode, spec, user};

/// A bound that turns a hang into a failure; never a speed assertion.
const HANG: Duration = Duration::from_secs(30);

async fn store(server: &RedisServer, prefix: &str, retention: Duration) -> RedisStore<DeviceCode> {
    let client = redis::Client::open(server.url()).expect("client");
    RedisStore::builder(client)
        .prefix(prefix)
        .retention(retention)
        .ttl_slack(Duration::from_secs(1))
        .connect()
        .await
        .expect("connect")
}

#[tokio::test]
async fn purge_leaves_no_key_behind_and_records_carry_no_ttl() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let prefix = "{ix}:";
    let s = store(&server, prefix, Duration::from_secs(5)).await;
    let opts = Opts {
        cooldown: Duration::from_secs(1),
        ..Opts::default()
    };
    let (m, clock) = manager_on(s, opts);
    let (a, b) = (user("a"), user("b"));
    let done = m.create(&a, spec()).await.expect("create");
    m.complete(done).await.expect("complete");
    let joined = m.create_or_join(&b, spec().alias("x")).await.expect("cj");
    let open = joined.into_open().expect("created");
    m.create(&a, spec().resource("other.example"))
        .await
        .expect("create");
    let cancelled = m.create(&b, spec()).await.expect("create");
    m.cancel(cancelled).await.expect("cancel");
    let mut c = server.raw().await;
    let before = keys_under(&mut c, prefix).await;
    let records: Vec<&String> = before.iter().filter(|k| k.contains(":p:")).collect();
    assert_eq!(records.len(), 4, "{before:?}");
    for k in records {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(k)
            .query_async(&mut c)
            .await
            .expect("PTTL");
        assert_eq!(
            ttl, -1,
            "a record key with a TTL could vanish before its index entries"
        );
    }
    // Past every deadline (10 minutes) and the retention after it.
    clock.advance(Duration::from_secs(600) + Duration::from_secs(6));
    assert_eq!(m.purge().await.expect("purge"), 4);
    assert!(m.get(open.id()).await.is_err());
    let after = keys_under(&mut c, prefix).await;
    assert!(after.is_empty(), "left behind: {after:?}");
}

#[tokio::test]
async fn a_store_purges_by_itself() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let prefix = "{self}:";
    let s = store(&server, prefix, Duration::from_millis(100)).await;
    let m = Manager::builder()
        .store(s)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .clock(SystemClock)
        .build();
    let p = m.create(&user("a"), spec()).await.expect("create");
    m.complete(p).await.expect("complete");
    let mut c = server.raw().await;
    assert!(!keys_under(&mut c, prefix).await.is_empty());
    // Forgotten by the store's own purge (every ttl_slack, 1 s here), no purge called.
    tokio::time::timeout(HANG, async {
        while !keys_under(&mut c, prefix).await.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the store never purged by itself");
}

#[tokio::test]
async fn a_finish_marker_alone_decides_and_a_marker_on_a_gone_record_is_taken_back() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let prefix = "{mark}:";
    let s = store(&server, prefix, Duration::from_secs(5)).await;
    let (m, clock) = manager_on(s, Opts::default());
    let a = user("a");
    let p = m.create_or_join(&a, spec()).await.expect("create");
    let p = p.into_open().expect("created");
    let id = p.id();
    let key = format!("{prefix}device_code:p:{}", id);
    let mut c = server.raw().await;
    // A completer that wrote its marker and stopped before moving the record in its
    // indexes (the marker's time is the clock's now).
    let at = clock.now().as_millis();
    let _: i64 = redis::cmd("HSETNX")
        .arg(&key)
        .arg("f")
        .arg(format!("c{at}"))
        .query_async(&mut c)
        .await
        .expect("HSETNX");
    assert!(matches!(m.get(id).await, Ok(AnyPending::Completed(_))));
    assert!(m.list(&a).await.expect("list").is_empty());
    let again = m.complete(p).await;
    assert_eq!(oob_tests::finished(&again), Some(Finished::Completed));
    // The dedup lookup skips it (and drops its stale entry): a new pending, not a join.
    let next = m.create_or_join(&a, spec()).await.expect("create_or_join");
    let next = next.into_open().expect("a new pending");
    assert_ne!(next.id(), id);
    m.complete(next).await.expect("complete");
    // Purge goes by the marker once the index entry (still at the deadline) comes up.
    clock.advance(Duration::from_secs(606));
    assert_eq!(m.purge().await.expect("purge"), 2);
    assert!(keys_under(&mut c, prefix).await.is_empty());
    // A record gone (cleared, purged) under a completer: the marker it wrote is removed.
    let q = m.create(&user("b"), spec()).await.expect("create");
    let qkey = format!("{prefix}device_code:p:{}", q.id());
    let _: i64 = redis::cmd("DEL")
        .arg(&qkey)
        .query_async(&mut c)
        .await
        .expect("DEL");
    assert!(m.complete(q).await.is_err());
    let exists: i64 = redis::cmd("EXISTS")
        .arg(&qkey)
        .query_async(&mut c)
        .await
        .expect("EXISTS");
    assert_eq!(exists, 0);
}

/// A finished record whose re-score was lost (the completer's second round trip failed, or
/// it crashed between its two steps) still scores by its deadline: a create at a bound must
/// not count it as open.
#[tokio::test]
async fn a_finished_record_left_at_its_deadline_does_not_hold_a_bound() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let prefix = "{bound}:";
    let s = store(&server, prefix, Duration::from_secs(5)).await;
    let opts = Opts {
        per_namespace: 1,
        total: 2,
        ..Opts::default()
    };
    let (m, clock) = manager_on(s, opts);
    let at = clock.now().as_millis();
    let mut c = server.raw().await;
    // Per namespace: `a`'s only record is finished by its marker alone.
    let a = user("a");
    let p = m.create(&a, spec()).await.expect("create");
    let _: i64 = redis::cmd("HSETNX")
        .arg(format!("{prefix}device_code:p:{}", p.id()))
        .arg("f")
        .arg(format!("c{at}"))
        .query_async(&mut c)
        .await
        .expect("HSETNX");
    let next = m
        .create(&a, spec())
        .await
        .expect("not held by a finished record");
    // It is open, so it holds the bound.
    assert!(m.create(&a, spec()).await.is_err());
    // Store-wide: `b`'s record finished the same way; `a`'s open one and a new one fit.
    let b = user("b");
    let q = m.create(&b, spec()).await.expect("create");
    let _: i64 = redis::cmd("HSETNX")
        .arg(format!("{prefix}device_code:p:{}", q.id()))
        .arg("f")
        .arg(format!("x{at}"))
        .query_async(&mut c)
        .await
        .expect("HSETNX");
    m.create(&user("c"), spec())
        .await
        .expect("not held by a finished record");
    assert!(m.create(&user("d"), spec()).await.is_err());
    m.complete(next).await.expect("complete");
}

/// The write commands Redis ran so far (`INFO commandstats`), by name.
async fn writes_run(c: &mut redis::aio::MultiplexedConnection) -> Vec<String> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(c)
        .await
        .expect("INFO");
    ["hsetnx", "hset", "del", "zadd", "publish"]
        .iter()
        .filter(|w| info.contains(&format!("cmdstat_{w}:")))
        .map(|w| (*w).to_owned())
        .collect()
}

/// Completing or cancelling an id that names no record (say, a made-up one from a URL)
/// writes nothing, so it cannot leave a lone finish marker behind either.
#[tokio::test]
async fn a_transition_of_an_unknown_id_writes_nothing() {
    use oob::id::PendingId;
    use oob::state::CancelReason;
    use oob::store::{Store, TransitionError, Wake};
    use oob::time::Timestamp;

    let Some(server) = RedisServer::start() else {
        return;
    };
    let prefix = "{bogus}:";
    let s = store(&server, prefix, Duration::from_secs(5)).await;
    let mut c = server.raw().await;
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut c)
        .await
        .expect("RESETSTAT");
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    let id = PendingId::random();
    assert!(matches!(
        s.complete(id, None, now, Wake::Now).await,
        Err(TransitionError::NotFound)
    ));
    assert!(matches!(
        s.cancel(id, CancelReason::Cancelled, None, now).await,
        Err(TransitionError::NotFound)
    ));
    assert_eq!(writes_run(&mut c).await, Vec::<String>::new());
    assert!(keys_under(&mut c, prefix).await.is_empty());
}

/// A record completed by another replica (not in its store's recent creates, so by the
/// transition script) is re-scored by its finish time in both indexes in that one call.
#[tokio::test]
async fn another_replicas_complete_moves_the_record_in_its_indexes() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let prefix = "{other}:";
    let (m, _) = manager_on(
        store(&server, prefix, Duration::from_secs(5)).await,
        Opts::default(),
    );
    let (other, other_clock) = manager_on(
        store(&server, prefix, Duration::from_secs(5)).await,
        Opts::default(),
    );
    other_clock.advance(Duration::from_secs(1));
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id().to_string();
    let ns = p.namespace().as_str().to_owned();
    let Ok(AnyPending::Open(q)) = other.get(p.id()).await else {
        panic!("open on the other replica");
    };
    other.complete(q).await.expect("complete");
    let at = other_clock.now().as_millis();
    let mut c = server.raw().await;
    for index in ["n:", "all"] {
        let key = if index == "all" {
            format!("{prefix}device_code:all")
        } else {
            format!("{prefix}device_code:n:{ns}")
        };
        let score: Option<u64> = redis::cmd("ZSCORE")
            .arg(&key)
            .arg(&id)
            .query_async(&mut c)
            .await
            .expect("ZSCORE");
        assert_eq!(score, Some(at), "{index}");
    }
}

/// With zero retention, more than a purge batch of records in their wake-up grace (kept,
/// scored before an expired record) neither stop a purge nor make it loop: it skips them
/// and forgets the expired record behind them.
#[tokio::test]
async fn a_purge_skips_more_than_a_batch_of_records_in_their_grace() {
    use oob::store::{Store, Wake};

    let Some(server) = RedisServer::start() else {
        return;
    };
    let s = store(&server, "{grace}:", Duration::ZERO).await;
    let (m, clock) = manager_on(s.clone(), Opts::default());
    let t0 = clock.now();
    let a = user("a");
    let mut ids = Vec::new();
    for _ in 0..300 {
        ids.push(m.create(&a, spec()).await.expect("create").id());
    }
    let expired = m.create(&a, spec()).await.expect("create").id();
    // Completed 550 s in (before their 10-minute deadline), awaiting their wake-up.
    let late = t0.saturating_add(Duration::from_secs(550));
    for id in ids {
        s.complete(id, None, late, Wake::Later)
            .await
            .expect("complete");
    }
    // Past the last deadline, within the grace of the completed ones.
    let at = t0.saturating_add(Duration::from_secs(600) + Duration::from_millis(1));
    let purged = tokio::time::timeout(HANG, s.purge(at))
        .await
        .expect("the purge never ended")
        .expect("purge");
    assert_eq!(purged, 1);
    assert!(s.get(expired, at).await.expect("get").is_none());
}

/// With zero retention a record forgotten at its complete takes every index entry with it,
/// its dedup entry included: nothing of it is left under the prefix (found by mutation
/// testing, as the next one).
#[tokio::test]
async fn zero_retention_forget_leaves_no_dedup_entry() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let prefix = "{zf}:";
    let s = store(&server, prefix, Duration::ZERO).await;
    let (m, _clock) = manager_on(s, Opts::default());
    let p = m
        .create_or_join(&user("a"), spec().alias("x"))
        .await
        .expect("create")
        .into_open()
        .expect("created");
    m.complete(p).await.expect("complete");
    let mut c = server.raw().await;
    let left = keys_under(&mut c, prefix).await;
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// The latest-decline key expires (it is not kept forever), and not before the decline's
/// retention window ends: a decline answers its cooldown for as long as it is readable
/// (`transition.lua`'s `PXAT`, and its time, were checked by no test).
#[tokio::test]
async fn the_latest_decline_key_lives_for_the_retention_window() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let prefix = "{dx}:";
    let retention = Duration::from_secs(300);
    let s = store(&server, prefix, retention).await;
    let (m, _clock) = manager_on(
        s,
        Opts {
            cooldown: Duration::from_secs(120),
            ..Opts::default()
        },
    );
    let p = m
        .create(&user("a"), spec().alias("k"))
        .await
        .expect("create");
    m.decline(p).await.expect("decline");
    let mut c = server.raw().await;
    let keys = keys_under(&mut c, prefix).await;
    let x: Vec<&String> = keys.iter().filter(|k| k.contains(":x:")).collect();
    assert_eq!(x.len(), 1, "{keys:?}");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(x[0])
        .query_async(&mut c)
        .await
        .expect("PTTL");
    assert!(ttl > 0, "the latest-decline key never expires: PTTL {ttl}");
    let window = i64::try_from(retention.as_millis()).expect("ms");
    assert!(
        ttl >= window - 10_000,
        "expires before the retention window: PTTL {ttl}"
    );
}
