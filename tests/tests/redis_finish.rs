//! The Redis store's complete of a record it created lately (`finish.lua`, which reads
//! nothing of the record back): the winner answers with the record as created, and a call
//! that does not win writes nothing (no marker, no index move, no event): neither a loser,
//! nor a call past the deadline, nor one for a record cleared under it.
//!
//! Without `redis-server` installed the binary skips with a notice (unless `CI` is set:
//! then it fails).

use std::time::{Duration, UNIX_EPOCH};

use oob::store::{Finished, RedisStore};
use oob::time::Clock;
use oob::{AnyPending, Error};
use oob_tests::conformance::{Opts, manager_on};
use oob_tests::redis_server::RedisServer;
use oob_tests::{spec, user};

const PREFIX: &str = "{fin}:";

async fn setup(
    server: &RedisServer,
) -> (
    oob_tests::conformance::ConfManager<RedisStore<oob_tests::DeviceCode>>,
    oob_tests::conformance::ManualClock,
    redis::aio::MultiplexedConnection,
) {
    let client = redis::Client::open(server.url()).expect("client");
    let store = RedisStore::builder(client.clone())
        .prefix(PREFIX)
        .retention(Duration::from_secs(3_600))
        .connect()
        .await
        .expect("connect");
    let (m, clock) = manager_on(store, Opts::default());
    let c = client
        .get_multiplexed_async_connection()
        .await
        .expect("raw connection");
    (m, clock, c)
}

fn record_key(id: impl std::fmt::Display) -> String {
    format!("{PREFIX}device_code:p:{id}")
}

/// The score of `id` in the namespace index of `ns` and in the store index.
async fn scores(c: &mut redis::aio::MultiplexedConnection, ns: &str, id: &str) -> (u64, u64) {
    let mut one = async |key: String| -> u64 {
        redis::cmd("ZSCORE")
            .arg(key)
            .arg(id)
            .query_async(&mut *c)
            .await
            .expect("ZSCORE")
    };
    let n = one(format!("{PREFIX}device_code:n:{ns}")).await;
    let a = one(format!("{PREFIX}device_code:all")).await;
    (n, a)
}

async fn marker(c: &mut redis::aio::MultiplexedConnection, id: &str) -> Option<String> {
    redis::cmd("HGET")
        .arg(record_key(id))
        .arg("f")
        .query_async(c)
        .await
        .expect("HGET")
}

/// Writes a finish marker on `id`'s record, as another completer would.
async fn write_marker(c: &mut redis::aio::MultiplexedConnection, id: &str, marker: &str) {
    let _: i64 = redis::cmd("HSETNX")
        .arg(record_key(id))
        .arg("f")
        .arg(marker)
        .query_async(c)
        .await
        .expect("HSETNX");
}

fn ms(t: std::time::SystemTime) -> u64 {
    u64::try_from(
        t.duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_millis(),
    )
    .expect("ms")
}

#[tokio::test]
async fn the_winner_answers_with_the_record_it_created_and_moves_it() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (m, clock, mut c) = setup(&server).await;
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id().to_string();
    clock.advance(Duration::from_secs(1));
    let at = clock.now().as_millis();
    let done = m.complete(p).await.expect("complete");
    assert_eq!(done.data(), &oob_tests::device_code());
    assert_eq!(marker(&mut c, &id).await, Some(format!("c{at}")));
    assert_eq!(scores(&mut c, "a", &id).await, (at, at));
    let Ok(AnyPending::Completed(read)) = m.get(done.id()).await else {
        panic!("a completed record reads completed");
    };
    assert_eq!(read.data(), done.data());
}

#[tokio::test]
async fn a_loser_writes_nothing() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (m, clock, mut c) = setup(&server).await;
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id().to_string();
    let deadline = ms(p.expires_at());
    // Another completer won (its marker only: its index moves are its own business).
    let won = format!("x{}", clock.now().as_millis());
    write_marker(&mut c, &id, &won).await;
    clock.advance(Duration::from_secs(1));
    let before = published(&mut c).await;
    let lost = m.complete(p).await;
    assert_eq!(oob_tests::finished(&lost), Some(Finished::Cancelled));
    assert_eq!(marker(&mut c, &id).await, Some(won));
    assert_eq!(scores(&mut c, "a", &id).await, (deadline, deadline));
    assert_eq!(published(&mut c).await, before, "a loser publishes nothing");
}

#[tokio::test]
async fn a_complete_past_the_deadline_writes_nothing() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (m, clock, mut c) = setup(&server).await;
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id().to_string();
    let deadline = ms(p.expires_at());
    clock.advance(Duration::from_secs(601));
    let before = published(&mut c).await;
    let late = m.complete(p).await;
    assert!(matches!(late, Err(Error::Expired(_))), "{late:?}");
    assert_eq!(marker(&mut c, &id).await, None);
    assert_eq!(scores(&mut c, "a", &id).await, (deadline, deadline));
    assert_eq!(
        published(&mut c).await,
        before,
        "an expired complete publishes nothing"
    );
}

#[tokio::test]
async fn a_complete_of_a_cleared_record_writes_nothing() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (m, _clock, mut c) = setup(&server).await;
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id().to_string();
    assert_eq!(m.clear(&user("a")).await.expect("clear"), 1);
    let gone = m.complete(p).await;
    assert!(matches!(gone, Err(Error::NotFound(_))), "{gone:?}");
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{PREFIX}*"))
        .query_async(&mut c)
        .await
        .expect("KEYS");
    assert!(keys.is_empty(), "left behind: {keys:?} ({id})");
}

/// How many `PUBLISH`es Redis ran so far (scripts' included).
async fn published(c: &mut redis::aio::MultiplexedConnection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(c)
        .await
        .expect("INFO");
    info.lines()
        .find_map(|l| l.strip_prefix("cmdstat_publish:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().expect("calls"))
}

/// A loser meets a marker written at or after the deadline (by a completer whose clock ran
/// ahead): the record reads expired, as every read decodes that marker, and the loser
/// answers so.
#[tokio::test]
async fn a_loser_meeting_a_late_marker_answers_expired() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let (m, _clock, mut c) = setup(&server).await;
    let p = m.create(&user("a"), spec()).await.expect("create");
    let id = p.id().to_string();
    let late = format!("c{}", ms(p.expires_at()));
    write_marker(&mut c, &id, &late).await;
    let lost = m.complete(p).await;
    assert!(matches!(lost, Err(Error::Expired(_))), "{lost:?}");
    assert_eq!(marker(&mut c, &id).await, Some(late));
}
