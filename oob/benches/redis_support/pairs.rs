//! The yardstick pairs: the minimal atomic pair (as `EVALSHA` scripts and as a Redis
//! Functions library) and the store's writes, with the client side that sends them.

use redis::aio::ConnectionManager;

/// The minimal atomic pair: the store's record writes and its event, nothing else (no
/// index, no dedup, no capacity). Create: `HSET` of the record's fields and `PEXPIREAT`.
/// Transition: check the state, `HSET` state and time, `PUBLISH`, return the fields.
pub const MIN_CREATE: &str = "
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
";

/// See [`MIN_CREATE`].
pub const MIN_DONE: &str = "
local f = redis.call('HMGET', KEYS[1], 's', 'n', 'c', 'e', 'a', 'r', 'i', 'd')
if f[1] ~= 'o' then return {0} end
redis.call('HSET', KEYS[1], 's', 'c', 't', ARGV[1])
redis.call('PUBLISH', ARGV[2], ARGV[3])
return {1, f[2], f[3], f[4], f[5], f[6], f[7], f[8]}
";

/// The store's writes and its event, without its reads or checks (a diagnostic yardstick):
/// the minimal pair plus every index write the store makes, so the store against this is
/// what its checks, its longer scripts and its client path cost, and this against the
/// minimal pair is what the indexes the lifecycle rules need cost. Create: `ZADD` to the
/// store index, `HSET` of the record, `ZADD` to the namespace and dedup indexes (the
/// store's `create.lua` at a namespace below its bound). Transition: `HSET` of the finish
/// marker, `ZADD`s re-scoring the record in the namespace and store indexes, `PUBLISH`
/// (the store's `finish.lua`).
///
/// KEYS: record, namespace index, store index, dedup index. Create ARGV: deadline, id, the
/// record's field/value pairs. Transition ARGV: the marker, now, id, event channel.
pub const WRITES_CREATE: &str = "
redis.call('ZADD', KEYS[3], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[1], ARGV[2])
return 1
";

/// See [`WRITES_CREATE`].
pub const WRITES_DONE: &str = "
redis.call('HSET', KEYS[1], 'f', ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[3])
return 1
";

/// The same pair as a Redis Functions library (`FCALL`).
pub const MIN_LIBRARY: &str = "#!lua name=oobbench
redis.register_function('oob_min_create', function(keys, args)
  redis.call('HSET', keys[1], unpack(args, 2))
  redis.call('PEXPIREAT', keys[1], args[1])
  return 1
end)
redis.register_function('oob_min_done', function(keys, args)
  local f = redis.call('HMGET', keys[1], 's', 'n', 'c', 'e', 'a', 'r', 'i', 'd')
  if f[1] ~= 'o' then return {0} end
  redis.call('HSET', keys[1], 's', 'c', 't', args[1])
  redis.call('PUBLISH', args[2], args[3])
  return {1, f[2], f[3], f[4], f[5], f[6], f[7], f[8]}
end)
";

/// Fields like a stored record's (namespace, times, state, resource, payload, dedup key).
pub fn record_fields(ns: &str, now: u64) -> Vec<(&'static str, String)> {
    vec![
        ("n", ns.to_owned()),
        ("c", now.to_string()),
        ("e", (now + 600_000).to_string()),
        ("s", "o".to_owned()),
        ("r", "example.com".to_owned()),
        (
            "d",
            r#"{"verify_url":"https://ex.com/device","user_code":"ABCD-1234","message":"Enter the code"}"#
                .to_owned(),
        ),
        ("k", format!("{}:{ns}-+11:example.com", ns.len())),
    ]
}

/// Milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
    )
    .unwrap_or(0)
}

/// The `n`th minimal pair, by `EVALSHA` (`hashes[0..2]`, [`MIN_CREATE`] and [`MIN_DONE`])
/// or `FCALL` ([`MIN_LIBRARY`]).
pub async fn minimal_pair(c: &mut ConnectionManager, hashes: &[String; 4], fcall: bool, n: u64) {
    let key = format!("{{min}}:p:{n:036}");
    let now = now_ms();
    let mut create = redis::cmd(if fcall { "FCALL" } else { "EVALSHA" });
    create.arg(if fcall { "oob_min_create" } else { &hashes[0] });
    create.arg(1).arg(&key).arg(now + 660_000);
    for (k, v) in record_fields(&format!("user-{}", n % 1_000), now) {
        create.arg(k).arg(v);
    }
    create.exec_async(c).await.expect("create");
    let mut done = redis::cmd(if fcall { "FCALL" } else { "EVALSHA" });
    done.arg(if fcall { "oob_min_done" } else { &hashes[1] });
    done.arg(1).arg(&key).arg(now).arg("{min}:events").arg(&key);
    std::hint::black_box(done.query_async::<redis::Value>(c).await.expect("done"));
}

/// The `n`th pair of the store's writes (`hashes[2..4]`, [`WRITES_CREATE`] and
/// [`WRITES_DONE`]), keyed like the store's records and indexes (1,000 namespaces, one
/// dedup key each) under the prefix `{writes}:`.
pub async fn writes_pair(c: &mut ConnectionManager, hashes: &[String; 4], n: u64) {
    let (id, ns) = (format!("{n:036}"), format!("user-{}", n % 1_000));
    let now = now_ms();
    let fields = record_fields(&ns, now);
    let keys = [
        format!("{{writes}}:p:{id}"),
        format!("{{writes}}:n:{ns}"),
        "{writes}:all".to_owned(),
        format!("{{writes}}:j:{}", fields[6].1),
    ];
    let mut create = redis::cmd("EVALSHA");
    create.arg(&hashes[2]).arg(4).arg(&keys);
    create.arg(now + 600_000).arg(&id);
    for (k, v) in fields {
        create.arg(k).arg(v);
    }
    create.exec_async(c).await.expect("create");
    let mut done = redis::cmd("EVALSHA");
    done.arg(&hashes[3]).arg(4).arg(&keys);
    done.arg(format!("c{now}"))
        .arg(now)
        .arg(&id)
        .arg("{writes}:events");
    std::hint::black_box(done.query_async::<redis::Value>(c).await.expect("done"));
}
