//! [`RedisStore`]: a store shared by the replicas of a service, in Redis.
//!
//! # Layout
//!
//! With the prefix `P` (default [`DEFAULT_PREFIX`]):
//!
//! | key | type | holds |
//! |-----|------|-------|
//! | `P` `p:` id | hash | one pending: namespace `n`, times `c` `e` `t`, state `s`, labels `a` `r` `i`, JSON payload `d` |
//! | `P` `ns:` namespace | sorted set | the ids of a namespace, scored by when they stop being open |
//! | `P` `all` | sorted set | every id, scored by a lower bound of when it may be purged (for [`purge`](Store::purge)) |
//! | `P` `open` | sorted set | open ids, scored by deadline (only kept when a finite total bound is used) |
//! | `P` `events` | channel | change events |
//!
//! Each record key gets a `PEXPIREAT` at its deadline plus the retention window (the latest
//! it may be purged; plus a slack for clock skew between the services and Redis), so Redis
//! forgets records even when no sweeper runs; transitions leave it as it is (one command
//! less per transition), and [`purge`](Store::purge) forgets finished records exactly, by
//! the manager's clock.
//!
//! # Round trips and atomicity
//!
//! [`get`](Store::get) is one `HGETALL`. [`complete`](Store::complete) and
//! [`cancel`](Store::cancel) are one `EVALSHA` of a script that touches only the record key
//! and publishes the change event from inside the script. [`create`](Store::create) is one
//! `EVALSHA` that checks the id, applies dedup and both capacity bounds and inserts the
//! record and its index entries, atomically.
//!
//! The namespace index is not updated by transitions (they touch one key): it is cleaned
//! lazily. Listing filters by state and deadline; stale entries (records finished, moved or
//! gone) are dropped or re-scored when `create` or `list_namespace` meet them.
//!
//! # Redis Cluster
//!
//! Transitions, reads, clear and purge only ever send commands on a single key each, so they
//! are valid on a cluster as they are. `create` must check the namespace's other records
//! (dedup and capacity) atomically with the insert, and `get`/`complete` receive only the id,
//! so the record key cannot carry a per-namespace hash tag. The store therefore requires,
//! on a cluster, a prefix with a hash tag (e.g. `{oob}:`): every key of the store then lives
//! in one slot and the create script is legal. This store connects to one endpoint (a
//! standalone server, a replicated primary, or a proxy); it does not route cluster
//! redirections itself.
//!
//! # Events
//!
//! Every transition, clear, purge and put publishes on `P` `events`: the id alone (waiters
//! re-read the record), or, for completions and cancellations in a store with zero
//! retention, the id, a space and the record (a JSON array of field names and values), so
//! waiters learn the outcome even when a purge removed the record before they read it. A background task per store subscribes to the channel and
//! feeds the in-process [`Notifier`]; it reconnects after a connection loss and then wakes
//! every local waiter once, since events may have been missed. Local waiters are also woken
//! directly, without the round trip through Redis.

use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError, Script, Value};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    Body, CreateError, Created, Dedup, Finished, Limits, NewRecord, Notifier, Record, RecordState,
    Scope, Store, StoreError, Subscription, TransitionError, Wake,
};
use crate::capability::NamespaceToken;
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::state::CancelReason;
use crate::time::Timestamp;

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "oob:";

/// The default retention window for finished records.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(300);

/// How long after the end of its retention window Redis itself deletes a record key (the
/// allowance for clock skew between services and Redis).
pub const DEFAULT_TTL_SLACK: Duration = Duration::from_secs(60);

/// How many ids purge and clear handle per pipeline.
const BATCH: usize = 512;

/// Latest representable key expiry (far beyond any real deadline; keeps `PEXPIREAT` valid).
const MAX_EXPIRE_MS: u64 = 1 << 52;

/// Why a Redis operation failed. Carried as the source of a [`StoreError`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// Redis could not be reached, the connection dropped or a reply timed out.
    #[error("redis is unavailable")]
    Unavailable(#[source] RedisError),
    /// Redis answered with an error.
    #[error("redis command failed")]
    Command(#[source] RedisError),
    /// Redis answered with something this store never asked for.
    #[error("unexpected reply from redis: {0}")]
    Reply(&'static str),
    /// A stored record is malformed.
    #[error("malformed stored record: {0}")]
    Malformed(&'static str),
}

impl RedisStoreError {
    /// Whether this is a connectivity failure (Redis down, connection lost, timeout), as
    /// opposed to an error answered by Redis.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

fn backend(e: RedisError) -> StoreError {
    let unavailable = e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error();
    StoreError::Backend(Box::new(if unavailable {
        RedisStoreError::Unavailable(e)
    } else {
        RedisStoreError::Command(e)
    }))
}

fn reply(what: &'static str) -> StoreError {
    StoreError::Backend(Box::new(RedisStoreError::Reply(what)))
}

fn malformed(what: &'static str) -> StoreError {
    StoreError::Decode(Box::new(RedisStoreError::Malformed(what)))
}

/// Checks the id, applies dedup and the capacity bounds, inserts. One key of the record,
/// three index keys; reads the records of the namespace's index (same slot, see the module
/// docs).
static CREATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local rk, nk, ak, ok = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = tonumber(ARGV[1])
local per_ns = tonumber(ARGV[2])
local total = tonumber(ARGV[3])
local pfx, ns, id = ARGV[6], ARGV[9], ARGV[13]
if redis.call('EXISTS', rk) == 1 then return {'dup'} end
local function label(v)
  if v == '-' then return false end
  return string.sub(v, 2)
end
local function count_open(key, in_ns)
  local n = 0
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', key, '(' .. now, '+inf')) do
    local f = redis.call('HMGET', pfx .. m, 's', 'e', 't', 'n')
    if not f[1] or (in_ns and f[4] ~= ns) then
      redis.call('ZREM', key, m)
    elseif f[1] == 'o' and tonumber(f[2]) > now then
      n = n + 1
    elseif in_ns then
      redis.call('ZADD', key, f[3] or f[2], m)
    else
      redis.call('ZREM', key, m)
    end
  end
  return n
end
if ARGV[4] == '1' then
  local cool = tonumber(ARGV[5])
  local alias, res = label(ARGV[7]), label(ARGV[8])
  local best, best_t = false, -1
  for _, m in ipairs(redis.call('ZRANGEBYSCORE', nk, '(' .. (now - cool), '+inf')) do
    local k = pfx .. m
    local f = redis.call('HMGET', k, 's', 'e', 't', 'n', 'a', 'r')
    if not f[1] or f[4] ~= ns then
      redis.call('ZREM', nk, m)
    elseif f[5] == alias and f[6] == res then
      if f[1] == 'o' and tonumber(f[2]) > now then
        return {'join', redis.call('HGETALL', k), m}
      end
      local t = tonumber(f[3] or '0')
      if f[1] == 'd' and t + cool > now and t > best_t then
        best, best_t = m, t
      end
    end
  end
  if best then return {'declined', redis.call('HGETALL', pfx .. best), best} end
end
if per_ns >= 0 and redis.call('ZCOUNT', nk, '(' .. now, '+inf') >= per_ns
  and count_open(nk, true) >= per_ns then
  return {'cap', 'namespace'}
end
if total >= 0 then
  redis.call('ZREMRANGEBYSCORE', ok, '-inf', ARGV[1])
  if redis.call('ZCARD', ok) >= total and count_open(ok, false) >= total then
    return {'cap', 'total'}
  end
end
redis.call('HSET', rk, unpack(ARGV, 14))
redis.call('PEXPIREAT', rk, ARGV[10])
redis.call('ZADD', nk, ARGV[11], id)
redis.call('ZADD', ak, ARGV[12], id)
if total >= 0 then redis.call('ZADD', ok, ARGV[11], id) end
return {'ok'}
",
    )
});

/// Completes, cancels or declines an open record: one key, and the event published from
/// inside the script. The key keeps its expiry (the end of the retention window after the
/// deadline, the latest a finished record may be purged); [`purge`](Store::purge) forgets
/// it exactly.
static TRANSITION: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local k = KEYS[1]
local all = redis.call('HGETALL', k)
if #all == 0 then return {'none'} end
local f = {}
for i = 1, #all, 2 do f[all[i]] = all[i + 1] end
if f.s ~= 'o' then return {'done', f.s} end
if tonumber(f.e) <= tonumber(ARGV[1]) then
  redis.call('HSET', k, 's', 'e', 't', f.e)
  redis.call('PUBLISH', ARGV[5], ARGV[6])
  return {'done', 'e'}
end
if ARGV[3] ~= '' and f.n ~= string.sub(ARGV[3], 2) then return {'other'} end
redis.call('HSET', k, 's', ARGV[2], 't', ARGV[1])
for i = 1, #all, 2 do
  if all[i] == 's' then all[i + 1] = ARGV[2] end
end
all[#all + 1] = 't'
all[#all + 1] = ARGV[1]
if ARGV[4] == '1' then
  redis.call('PUBLISH', ARGV[5], ARGV[6])
elseif ARGV[4] == '2' then
  redis.call('PUBLISH', ARGV[5], ARGV[6] .. ' ' .. cjson.encode(all))
end
return {'ok', all}
",
    )
});

/// Deletes a record if it (still) belongs to the namespace being cleared.
static CLEAR: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HGET', KEYS[1], 'n') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], ARGV[3])
  return 1
end
return 0
",
    )
});

/// Deletes a record whose retention window ended; otherwise returns a lower bound of when
/// it may be purged, minus the retention.
static PURGE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local f = redis.call('HMGET', KEYS[1], 's', 'e', 't', 'n')
if not f[1] then return {0} end
local now, ret = tonumber(ARGV[1]), tonumber(ARGV[2])
local base = tonumber(f[2])
if f[1] ~= 'o' and f[1] ~= 'e' then base = tonumber(f[3]) end
if base + ret <= now then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[3], ARGV[4])
  return {1, f[4]}
end
if f[1] == 'o' and now < base then base = now end
if base + ret <= now then base = now - ret + 1 end
return {2, base}
",
    )
});

/// A [`Store`] in Redis, shared by every replica that uses the same server and prefix.
///
/// Atomic transitions in one round trip, key TTLs, a namespace index and completion
/// events over pub/sub, so a waiter on one replica wakes when another replica completes
/// (see the [module docs](self) for the layout and the Cluster rules). Payloads are
/// stored as JSON. Use one prefix per payload type. Cloning shares the connection.
///
/// While Redis is unreachable every operation fails fast with a [`StoreError::Backend`]
/// whose source is a [`RedisStoreError::Unavailable`]; the store reconnects by itself once
/// Redis is back.
///
/// ```no_run
/// use oob::store::RedisStore;
///
/// # #[derive(serde::Serialize, serde::Deserialize)] struct Payload;
/// # async fn run() -> Result<(), oob::store::StoreError> {
/// let client = redis::Client::open("redis://127.0.0.1:6379/").map_err(oob::store::StoreError::backend)?;
/// let store: RedisStore<Payload> = RedisStore::builder(client).prefix("{oob}:device:").connect().await?;
/// # Ok(()) }
/// ```
pub struct RedisStore<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for RedisStore<T> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<T> std::fmt::Debug for RedisStore<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.shared.keys.prefix)
            .field("retention", &self.shared.retention)
            .finish_non_exhaustive()
    }
}

struct Shared<T> {
    conn: ConnectionManager,
    keys: Keys,
    retention: Duration,
    slack: Duration,
    notifier: Notifier<T>,
    subscribed: Arc<AtomicBool>,
    subscriber: tokio::task::JoinHandle<()>,
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        self.subscriber.abort();
    }
}

struct Keys {
    prefix: String,
    record_prefix: String,
    all: String,
    open: String,
    channel: String,
}

impl Keys {
    fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            record_prefix: format!("{prefix}p:"),
            all: format!("{prefix}all"),
            open: format!("{prefix}open"),
            channel: format!("{prefix}events"),
        }
    }

    fn record(&self, id: &str) -> String {
        let mut k = String::with_capacity(self.record_prefix.len() + id.len());
        k.push_str(&self.record_prefix);
        k.push_str(id);
        k
    }

    fn namespace(&self, ns: &str) -> String {
        format!("{}ns:{ns}", self.prefix)
    }
}

/// Options for a [`RedisStore`]; [`connect`](Self::connect) opens it.
pub struct RedisStoreBuilder<T> {
    client: Client,
    prefix: String,
    retention: Duration,
    slack: Duration,
    connection_timeout: Duration,
    response_timeout: Duration,
    keepalive: Duration,
    _payload: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for RedisStoreBuilder<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("prefix", &self.prefix)
            .field("retention", &self.retention)
            .field("connection_timeout", &self.connection_timeout)
            .field("response_timeout", &self.response_timeout)
            .finish_non_exhaustive()
    }
}

impl<T> RedisStoreBuilder<T> {
    /// The key prefix (default [`DEFAULT_PREFIX`]). Use one per payload type, and one with a
    /// hash tag (e.g. `{oob}:`) on Redis Cluster.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long finished and expired records stay readable (default [`DEFAULT_RETENTION`]).
    /// With zero, a finished record is forgotten by the next [`purge`](Store::purge) (not
    /// at once, unlike the memory store: until then a waiter on another replica that reads
    /// it between the transition and the event still finds the outcome).
    #[must_use]
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// How long after its retention window Redis deletes a record key by itself (default
    /// [`DEFAULT_TTL_SLACK`]): allows for clock skew between the services and Redis.
    #[must_use]
    pub fn ttl_slack(mut self, slack: Duration) -> Self {
        self.slack = slack;
        self
    }

    /// How long one connection attempt may take (default 1 s). While Redis is down an
    /// operation fails within about this time.
    #[must_use]
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// How long a reply may take (default 2 s).
    #[must_use]
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// How often the event subscriber pings Redis to notice a dead connection (default 10 s).
    #[must_use]
    pub fn keepalive(mut self, every: Duration) -> Self {
        self.keepalive = every;
        self
    }

    /// Connects, and starts the event subscriber on the current tokio runtime.
    ///
    /// # Errors
    /// When Redis cannot be reached, or the event subscription cannot be set up within the
    /// connection and response timeouts.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub async fn connect(self) -> Result<RedisStore<T>, StoreError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connection_timeout))
            .set_response_timeout(Some(self.response_timeout))
            .set_number_of_retries(0);
        let conn = ConnectionManager::new_with_config(self.client.clone(), config)
            .await
            .map_err(backend)?;
        let keys = Keys::new(&self.prefix);
        let notifier = Notifier::new();
        let subscribed = Arc::new(AtomicBool::new(false));
        let (ready_tx, mut ready_rx) = tokio::sync::watch::channel(false);
        let subscriber = tokio::spawn(subscriber::<T>(SubscriberCtx {
            client: self.client,
            channel: keys.channel.clone(),
            notifier: notifier.clone(),
            subscribed: subscribed.clone(),
            ready: ready_tx,
            connection_timeout: self.connection_timeout,
            response_timeout: self.response_timeout,
            keepalive: self.keepalive,
        }));
        let store = RedisStore {
            shared: Arc::new(Shared {
                conn,
                keys,
                retention: self.retention,
                slack: self.slack,
                notifier,
                subscribed,
                subscriber,
            }),
        };
        let limit = self.connection_timeout + self.response_timeout;
        match tokio::time::timeout(limit, ready_rx.wait_for(|r| *r)).await {
            Ok(Ok(_)) => Ok(store),
            _ => Err(reply("event subscription could not be set up")),
        }
    }
}

impl<T> RedisStore<T> {
    /// Options for a store on `client`.
    #[must_use]
    pub fn builder(client: Client) -> RedisStoreBuilder<T> {
        RedisStoreBuilder {
            client,
            prefix: DEFAULT_PREFIX.to_owned(),
            retention: DEFAULT_RETENTION,
            slack: DEFAULT_TTL_SLACK,
            connection_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(2),
            keepalive: Duration::from_secs(10),
            _payload: PhantomData,
        }
    }

    /// A store with the default options on the server at `url` (e.g.
    /// `redis://127.0.0.1:6379/`).
    ///
    /// # Errors
    /// When the URL is invalid or Redis cannot be reached.
    pub async fn open(url: &str) -> Result<Self, StoreError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let client = Client::open(url).map_err(backend)?;
        Self::builder(client).connect().await
    }

    /// The retention window.
    #[must_use]
    pub fn retention(&self) -> Duration {
        self.shared.retention
    }

    /// The key prefix.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.shared.keys.prefix
    }

    /// Whether the event subscriber is currently subscribed (false while Redis is
    /// unreachable, until it has reconnected).
    #[must_use]
    pub fn events_connected(&self) -> bool {
        self.shared.subscribed.load(Ordering::SeqCst)
    }

    /// How many ids have local waiters subscribed.
    #[must_use]
    pub fn watched(&self) -> usize {
        self.shared.notifier.watched()
    }

    fn conn(&self) -> ConnectionManager {
        self.shared.conn.clone()
    }

    /// When Redis may delete a record key by itself.
    fn expire_at(&self, purge_at: Timestamp) -> u64 {
        purge_at
            .saturating_add(self.shared.slack)
            .as_millis()
            .min(MAX_EXPIRE_MS)
    }

    fn retention_ms(&self) -> u64 {
        u64::try_from(self.shared.retention.as_millis()).unwrap_or(u64::MAX)
    }
}

/// A bound as a Lua number: `-1` for "none".
fn limit_arg(n: usize) -> i64 {
    if n >= 1 << 52 {
        -1
    } else {
        i64::try_from(n).unwrap_or(-1)
    }
}

fn label_arg(l: Option<&str>) -> String {
    match l {
        None => "-".to_owned(),
        Some(s) => format!("+{s}"),
    }
}

fn state_fields(state: RecordState) -> (&'static str, Option<Timestamp>) {
    match state {
        RecordState::Open => ("o", None),
        RecordState::Completed { at } => ("c", Some(at)),
        RecordState::Cancelled {
            at,
            reason: CancelReason::Cancelled,
        } => ("x", Some(at)),
        RecordState::Cancelled {
            at,
            reason: CancelReason::Declined,
        } => ("d", Some(at)),
        RecordState::Expired { at } => ("e", Some(at)),
    }
}

/// The hash fields of a record, as name/value pairs.
fn encode_fields<T: Serialize>(r: &Record<T>) -> Result<Vec<(&'static str, String)>, StoreError> {
    let data = serde_json::to_string(r.body.data()).map_err(|e| StoreError::Encode(Box::new(e)))?;
    let (s, t) = state_fields(r.state);
    let mut f = Vec::with_capacity(9);
    f.push(("n", r.namespace.as_str().to_owned()));
    f.push(("c", r.created_at.as_millis().to_string()));
    f.push(("e", r.expires_at.as_millis().to_string()));
    f.push(("s", s.to_owned()));
    if let Some(t) = t {
        f.push(("t", t.as_millis().to_string()));
    }
    for (name, label) in [
        ("a", r.body.alias()),
        ("r", r.body.resource()),
        ("i", r.body.elicit_id()),
    ] {
        if let Some(l) = label {
            f.push((name, l.to_owned()));
        }
    }
    f.push(("d", data));
    Ok(f)
}

fn parse_ms(v: &[u8], what: &'static str) -> Result<u64, StoreError> {
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| malformed(what))
}

fn utf8(v: &[u8], what: &'static str) -> Result<String, StoreError> {
    String::from_utf8(v.to_vec()).map_err(|_| malformed(what))
}

/// A record from its hash fields.
fn decode<'a, T: DeserializeOwned>(
    id: PendingId,
    fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<Record<T>, StoreError> {
    let (mut n, mut c, mut e, mut s, mut t, mut d) = (None, None, None, None, None, None);
    let (mut a, mut r, mut i) = (None, None, None);
    for (k, v) in fields {
        match k {
            b"n" => n = Some(v),
            b"c" => c = Some(parse_ms(v, "created")?),
            b"e" => e = Some(parse_ms(v, "expires")?),
            b"s" => s = Some(v),
            b"t" => t = Some(parse_ms(v, "finished")?),
            b"a" => a = Some(utf8(v, "alias")?),
            b"r" => r = Some(utf8(v, "resource")?),
            b"i" => i = Some(utf8(v, "elicitation id")?),
            b"d" => d = Some(v),
            _ => {}
        }
    }
    let namespace = n
        .and_then(|n| std::str::from_utf8(n).ok())
        .and_then(|n| Namespace::new(n).ok())
        .ok_or_else(|| malformed("namespace"))?;
    let created = Timestamp::from_millis(c.ok_or_else(|| malformed("created"))?);
    let expires = Timestamp::from_millis(e.ok_or_else(|| malformed("expires"))?);
    let at = || {
        t.map(Timestamp::from_millis)
            .ok_or_else(|| malformed("finished"))
    };
    let state = match s.ok_or_else(|| malformed("state"))? {
        b"o" => RecordState::Open,
        b"c" => RecordState::Completed { at: at()? },
        b"x" => RecordState::Cancelled {
            at: at()?,
            reason: CancelReason::Cancelled,
        },
        b"d" => RecordState::Cancelled {
            at: at()?,
            reason: CancelReason::Declined,
        },
        b"e" => RecordState::Expired { at: expires },
        _ => return Err(malformed("state")),
    };
    let data: T = serde_json::from_slice(d.ok_or_else(|| malformed("payload"))?)
        .map_err(|e| StoreError::Decode(Box::new(e)))?;
    Ok(Record {
        id,
        namespace,
        created_at: created,
        expires_at: expires,
        state,
        body: Arc::new(Body::new(data, a, r, i)),
    })
}

fn bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        _ => None,
    }
}

/// Field/value pairs of a hash.
type Pairs<'a> = Vec<(&'a [u8], &'a [u8])>;

/// The field/value pairs of an `HGETALL` reply (flat array or RESP3 map); `None` when the
/// hash does not exist.
fn hash_pairs(v: &Value) -> Result<Option<Pairs<'_>>, StoreError> {
    let pairs: Vec<(&[u8], &[u8])> = match v {
        Value::Nil => return Ok(None),
        Value::Array(items) => items
            .chunks(2)
            .map(|kv| match kv {
                [k, v] => bytes(k).zip(bytes(v)).ok_or_else(|| reply("hash field")),
                _ => Err(reply("odd hash reply")),
            })
            .collect::<Result<_, _>>()?,
        Value::Map(items) => items
            .iter()
            .map(|(k, v)| bytes(k).zip(bytes(v)).ok_or_else(|| reply("hash field")))
            .collect::<Result<_, _>>()?,
        _ => return Err(reply("hash")),
    };
    Ok((!pairs.is_empty()).then_some(pairs))
}

fn decode_hash<T: DeserializeOwned>(
    id: PendingId,
    v: &Value,
) -> Result<Option<Record<T>>, StoreError> {
    match hash_pairs(v)? {
        None => Ok(None),
        Some(pairs) => decode(id, pairs).map(Some),
    }
}

/// The tag and the rest of a script's array reply.
fn tagged(v: &Value) -> Result<(&[u8], &[Value]), StoreError> {
    match v {
        Value::Array(items) => match items.split_first() {
            Some((tag, rest)) => Ok((bytes(tag).ok_or_else(|| reply("tag"))?, rest)),
            None => Err(reply("empty script reply")),
        },
        _ => Err(reply("script reply")),
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        other => bytes(other)
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|s| s.parse().ok()),
    }
}

fn finished_of(code: &[u8]) -> Finished {
    match code {
        b"c" => Finished::Completed,
        b"x" => Finished::Cancelled,
        b"d" => Finished::Declined,
        _ => Finished::Expired,
    }
}

/// The event message of a changed record: its id, a space, and its fields as a JSON array.
fn record_message<T: Serialize>(r: &Record<T>) -> Result<String, StoreError> {
    let fields = encode_fields(r)?;
    let flat: Vec<&str> = fields.iter().flat_map(|(k, v)| [*k, v.as_str()]).collect();
    let json = serde_json::to_string(&flat).map_err(|e| StoreError::Encode(Box::new(e)))?;
    Ok(format!("{} {json}", r.id.encode().as_str()))
}

/// Handles one event message: wakes the local waiters of its id, with the record when the
/// message carries one and somebody waits.
fn on_event<T: DeserializeOwned>(notifier: &Notifier<T>, payload: &[u8]) {
    let Some(id) = payload
        .get(..36)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| PendingId::from_str(s).ok())
    else {
        return;
    };
    if !notifier.is_watched(id) {
        return;
    }
    let record = payload
        .get(37..)
        .filter(|r| !r.is_empty())
        .and_then(|json| {
            let flat: Vec<String> = serde_json::from_slice(json).ok()?;
            let pairs = flat
                .chunks(2)
                .filter_map(|kv| match kv {
                    [k, v] => Some((k.as_bytes(), v.as_bytes())),
                    _ => None,
                })
                .collect::<Vec<_>>();
            decode::<T>(id, pairs).ok()
        });
    match record {
        Some(r) => notifier.notify_with(id, r),
        None => notifier.notify(id),
    }
}

struct SubscriberCtx<T> {
    client: Client,
    channel: String,
    notifier: Notifier<T>,
    subscribed: Arc<AtomicBool>,
    ready: tokio::sync::watch::Sender<bool>,
    connection_timeout: Duration,
    response_timeout: Duration,
    keepalive: Duration,
}

/// The event subscriber: subscribes, feeds the notifier, and reconnects (with backoff up to
/// a second) whenever the connection is lost.
async fn subscriber<T: DeserializeOwned + Send + Sync + 'static>(cx: SubscriberCtx<T>) {
    const MIN_BACKOFF: Duration = Duration::from_millis(20);
    const MAX_BACKOFF: Duration = Duration::from_secs(1);
    let mut backoff = MIN_BACKOFF;
    loop {
        let connected = tokio::time::timeout(cx.connection_timeout + cx.response_timeout, async {
            let mut ps = cx.client.get_async_pubsub().await?;
            ps.subscribe(&cx.channel).await?;
            Ok::<_, RedisError>(ps)
        })
        .await;
        if let Ok(Ok(ps)) = connected {
            backoff = MIN_BACKOFF;
            let (mut sink, mut stream) = ps.split();
            cx.subscribed.store(true, Ordering::SeqCst);
            cx.ready.send_replace(true);
            // Events may have been missed while disconnected: every waiter re-reads.
            cx.notifier.notify_all();
            let mut tick = tokio::time::interval(cx.keepalive);
            tick.reset();
            loop {
                tokio::select! {
                    msg = std::future::poll_fn(|c| {
                        futures_core::Stream::poll_next(std::pin::Pin::new(&mut stream), c)
                    }) => match msg {
                        Some(m) => on_event(&cx.notifier, m.get_payload_bytes()),
                        None => break,
                    },
                    _ = tick.tick() => {
                        let pong = tokio::time::timeout(
                            cx.response_timeout,
                            sink.ping::<Value>(),
                        ).await;
                        if !matches!(pong, Ok(Ok(_))) {
                            break;
                        }
                    }
                }
            }
            cx.subscribed.store(false, Ordering::SeqCst);
            cx.ready.send_replace(false);
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// `EVALSHA` of `script` with the keys and arguments already in `cmd` (built by
/// [`evalsha`]); on `NOSCRIPT` (a restarted or flushed server) loads the script and retries
/// once. Builds the command once, unlike a `ScriptInvocation`, which copies every argument.
async fn eval(
    conn: &mut ConnectionManager,
    script: &Script,
    cmd: &redis::Cmd,
) -> Result<Value, StoreError> {
    match cmd.query_async(conn).await {
        Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
            script.load_async(conn).await.map_err(backend)?;
            cmd.query_async(conn).await.map_err(backend)
        }
        r => r.map_err(backend),
    }
}

/// `EVALSHA <hash> <numkeys>`, to which the caller adds keys then arguments.
fn evalsha(script: &Script, numkeys: usize) -> redis::Cmd {
    let mut c = redis::cmd("EVALSHA");
    c.arg(script.get_hash()).arg(numkeys);
    c
}

impl<T> RedisStore<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    async fn transition(
        &self,
        id: PendingId,
        to: &'static str,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        let ids = id.encode();
        let id_str = ids.as_str();
        let keys = &self.shared.keys;
        let expect_arg = expect.map_or_else(String::new, |ns| format!("={}", ns.as_str()));
        let mut cmd = evalsha(&TRANSITION, 1);
        cmd.arg(keys.record(id_str))
            .arg(now.as_millis())
            .arg(to)
            .arg(expect_arg)
            .arg(self.publish_mode(wake))
            .arg(&keys.channel)
            .arg(id_str);
        let v = eval(&mut self.conn(), &TRANSITION, &cmd).await?;
        let (tag, rest) = tagged(&v)?;
        match tag {
            b"ok" => {
                let rec = rest
                    .first()
                    .map(|h| decode_hash::<T>(id, h))
                    .transpose()?
                    .flatten()
                    .ok_or_else(|| reply("transition record"))?;
                if wake == Wake::Now {
                    self.shared.notifier.notify_with(id, rec.clone());
                }
                Ok(rec)
            }
            b"none" => Err(TransitionError::NotFound),
            b"other" => Err(TransitionError::NamespaceMismatch),
            b"done" => {
                let code = rest.first().and_then(bytes).unwrap_or(b"e");
                if code == b"e" {
                    self.shared.notifier.notify(id);
                }
                Err(TransitionError::Finished(finished_of(code)))
            }
            _ => Err(reply("transition tag").into()),
        }
    }

    /// What a transition publishes: nothing (the wake comes later), the id (waiters re-read
    /// the retained record), or the record too (zero retention: a purge may remove it before
    /// a waiter on another replica reads it).
    fn publish_mode(&self, wake: Wake) -> &'static str {
        match wake {
            Wake::Later => "0",
            Wake::Now if self.shared.retention.is_zero() => "2",
            Wake::Now => "1",
        }
    }

    /// Wakes local waiters of `ids` (scripts published the events for other replicas).
    fn notify_local(&self, ids: &[PendingId]) {
        for id in ids {
            self.shared.notifier.notify(*id);
        }
    }
}

impl<T> Store<T> for RedisStore<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn create(
        &self,
        new_record: &NewRecord<T>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> Result<Created<T>, CreateError> {
        let record = new_record.record();
        let keys = &self.shared.keys;
        let ids = record.id.encode();
        let id_str = ids.as_str();
        let fields = encode_fields(record)?;
        let (join, cooldown) = match dedup {
            Dedup::Never => ("0", 0u64),
            Dedup::Join { decline_cooldown } => (
                "1",
                u64::try_from(decline_cooldown.as_millis()).unwrap_or(u64::MAX >> 12),
            ),
        };
        let total = limit_arg(limits.total);
        let expires_score = match record.state {
            RecordState::Open => record.expires_at,
            other => match state_fields(other).1 {
                Some(t) => t.min(record.expires_at),
                None => record.expires_at,
            },
        };
        let base = record
            .created_at
            .min(state_fields(record.state).1.unwrap_or(record.created_at));
        let mut cmd = evalsha(&CREATE, 4);
        cmd.arg(keys.record(id_str))
            .arg(keys.namespace(record.namespace.as_str()))
            .arg(&keys.all)
            .arg(&keys.open)
            .arg(now.as_millis())
            .arg(limit_arg(limits.per_namespace))
            .arg(total)
            .arg(join)
            .arg(cooldown.min(1 << 52))
            .arg(&keys.record_prefix)
            .arg(label_arg(record.body.alias()))
            .arg(label_arg(record.body.resource()))
            .arg(record.namespace.as_str())
            .arg(self.expire_at(record.purge_at(self.shared.retention)))
            .arg(expires_score.as_millis())
            .arg(base.as_millis())
            .arg(id_str);
        for (k, v) in &fields {
            cmd.arg(*k).arg(v);
        }
        let v = eval(&mut self.conn(), &CREATE, &cmd).await?;
        let (tag, rest) = tagged(&v)?;
        match tag {
            b"ok" => Ok(Created::Inserted),
            b"dup" => Err(CreateError::DuplicateId),
            b"cap" => Err(CreateError::Capacity(
                if rest.first().and_then(bytes) == Some(b"total") {
                    Scope::Total
                } else {
                    Scope::Namespace
                },
            )),
            b"join" | b"declined" => {
                let id = rest
                    .get(1)
                    .and_then(bytes)
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .and_then(|s| PendingId::from_str(s).ok())
                    .ok_or_else(|| reply("dedup id"))?;
                let rec = rest
                    .first()
                    .map(|h| decode_hash::<T>(id, h))
                    .transpose()?
                    .flatten()
                    .ok_or_else(|| reply("dedup record"))?;
                let rec = Record {
                    state: rec.state_at(now),
                    ..rec
                };
                Ok(if tag == b"join" {
                    Created::Joined(rec)
                } else {
                    Created::Declined(rec)
                })
            }
            _ => Err(reply("create tag").into()),
        }
    }

    async fn get(&self, id: PendingId, now: Timestamp) -> Result<Option<Record<T>>, StoreError> {
        let ids = id.encode();
        let v: Value = redis::cmd("HGETALL")
            .arg(self.shared.keys.record(ids.as_str()))
            .query_async(&mut self.conn())
            .await
            .map_err(backend)?;
        Ok(decode_hash::<T>(id, &v)?.map(|r| Record {
            state: r.state_at(now),
            ..r
        }))
    }

    async fn complete(
        &self,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        self.transition(id, "c", expect, now, wake).await
    }

    async fn wake(&self, record: &Record<T>) -> Result<(), StoreError> {
        self.shared.notifier.notify_with(record.id, record.clone());
        let msg = if self.shared.retention.is_zero() {
            record_message(record)?
        } else {
            record.id.encode().as_str().to_owned()
        };
        redis::cmd("PUBLISH")
            .arg(&self.shared.keys.channel)
            .arg(msg)
            .exec_async(&mut self.conn())
            .await
            .map_err(backend)
    }

    async fn cancel(
        &self,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> Result<Record<T>, TransitionError> {
        let to = match reason {
            CancelReason::Cancelled => "x",
            CancelReason::Declined => "d",
        };
        self.transition(id, to, expect, now, Wake::Now).await
    }

    async fn list_namespace(
        &self,
        token: &NamespaceToken<'_>,
        now: Timestamp,
    ) -> Result<Vec<Record<T>>, StoreError> {
        let namespace = token.namespace();
        let keys = &self.shared.keys;
        let nk = keys.namespace(namespace.as_str());
        let mut conn = self.conn();
        let members: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(&nk)
            .arg(format!("({}", now.as_millis()))
            .arg("+inf")
            .query_async(&mut conn)
            .await
            .map_err(backend)?;
        let mut out = Vec::with_capacity(members.len());
        let mut stale: Vec<&str> = Vec::new();
        let mut rescore: Vec<(u64, &str)> = Vec::new();
        for chunk in members.chunks(BATCH) {
            let mut p = redis::pipe();
            for m in chunk {
                p.cmd("HGETALL").arg(keys.record(m));
            }
            let replies: Vec<Value> = p.query_async(&mut conn).await.map_err(backend)?;
            for (m, v) in chunk.iter().zip(&replies) {
                let Ok(id) = PendingId::from_str(m) else {
                    stale.push(m);
                    continue;
                };
                match decode_hash::<T>(id, v)? {
                    Some(r) if &r.namespace == namespace => match r.state_at(now) {
                        RecordState::Open => out.push(r),
                        RecordState::Expired { at } => rescore.push((at.as_millis(), m)),
                        s => rescore.push((state_fields(s).1.unwrap_or(now).as_millis(), m)),
                    },
                    _ => stale.push(m),
                }
            }
        }
        if !stale.is_empty() || !rescore.is_empty() {
            // Best effort: a failure here leaves entries that the next reader drops.
            let mut p = redis::pipe();
            for m in &stale {
                p.cmd("ZREM").arg(&nk).arg(*m).ignore();
            }
            for (score, m) in &rescore {
                p.cmd("ZADD")
                    .arg(&nk)
                    .arg("XX")
                    .arg(*score)
                    .arg(*m)
                    .ignore();
            }
            let _ = p.exec_async(&mut conn).await;
        }
        Ok(out)
    }

    async fn clear_namespace(&self, token: &NamespaceToken<'_>) -> Result<usize, StoreError> {
        let namespace = token.namespace();
        let keys = &self.shared.keys;
        let nk = keys.namespace(namespace.as_str());
        let mut conn = self.conn();
        let mut remaining: usize = redis::cmd("ZCARD")
            .arg(&nk)
            .query_async(&mut conn)
            .await
            .map_err(backend)?;
        let mut cleared = Vec::new();
        while remaining > 0 {
            let members: Vec<String> = redis::cmd("ZRANGE")
                .arg(&nk)
                .arg(0)
                .arg(BATCH.min(remaining) - 1)
                .query_async(&mut conn)
                .await
                .map_err(backend)?;
            if members.is_empty() {
                break;
            }
            remaining = remaining.saturating_sub(members.len());
            let mut p = redis::pipe();
            p.load_script(&CLEAR).ignore();
            for m in &members {
                let mut inv = CLEAR.key(keys.record(m));
                inv.arg(namespace.as_str()).arg(&keys.channel).arg(m);
                p.invoke_script(&inv);
            }
            p.cmd("ZREM").arg(&nk).arg(&members).ignore();
            p.cmd("ZREM").arg(&keys.all).arg(&members).ignore();
            p.cmd("ZREM").arg(&keys.open).arg(&members).ignore();
            let deleted: Vec<i64> = p.query_async(&mut conn).await.map_err(backend)?;
            for (m, d) in members.iter().zip(&deleted) {
                if *d == 1
                    && let Ok(id) = PendingId::from_str(m)
                {
                    cleared.push(id);
                }
            }
        }
        self.notify_local(&cleared);
        Ok(cleared.len())
    }

    async fn purge(&self, now: Timestamp) -> Result<usize, StoreError> {
        let keys = &self.shared.keys;
        let ret = self.retention_ms();
        let max = now.as_millis().saturating_sub(ret);
        let mut conn = self.conn();
        let mut purged = Vec::new();
        loop {
            let members: Vec<String> = redis::cmd("ZRANGEBYSCORE")
                .arg(&keys.all)
                .arg("-inf")
                .arg(max)
                .arg("LIMIT")
                .arg(0)
                .arg(BATCH)
                .query_async(&mut conn)
                .await
                .map_err(backend)?;
            if members.is_empty() {
                break;
            }
            let mut p = redis::pipe();
            p.load_script(&PURGE).ignore();
            for m in &members {
                let mut inv = PURGE.key(keys.record(m));
                inv.arg(now.as_millis())
                    .arg(ret.min(1 << 52))
                    .arg(&keys.channel)
                    .arg(m);
                p.invoke_script(&inv);
            }
            let replies: Vec<Value> = p.query_async(&mut conn).await.map_err(backend)?;
            let mut gone: Vec<&str> = Vec::new();
            let mut update = redis::pipe();
            for (m, v) in members.iter().zip(&replies) {
                let (code, rest) = match v {
                    Value::Array(items) => match items.split_first() {
                        Some((c, rest)) => (int(c), rest),
                        None => (None, &[][..]),
                    },
                    _ => (None, &[][..]),
                };
                match code {
                    Some(1) => {
                        gone.push(m);
                        if let Some(ns) = rest.first().and_then(bytes) {
                            update
                                .cmd("ZREM")
                                .arg(keys.namespace(&String::from_utf8_lossy(ns)))
                                .arg(m)
                                .ignore();
                        }
                        if let Ok(id) = PendingId::from_str(m) {
                            purged.push(id);
                        }
                    }
                    Some(2) => {
                        let base = rest.first().and_then(int).unwrap_or(0);
                        update
                            .cmd("ZADD")
                            .arg(&keys.all)
                            .arg(base.max(i64::try_from(max).unwrap_or(i64::MAX) + 1))
                            .arg(m)
                            .ignore();
                    }
                    _ => gone.push(m),
                }
            }
            if !gone.is_empty() {
                update.cmd("ZREM").arg(&keys.all).arg(&gone).ignore();
            }
            update.exec_async(&mut conn).await.map_err(backend)?;
            if members.len() < BATCH {
                break;
            }
        }
        self.notify_local(&purged);
        Ok(purged.len())
    }

    async fn subscribe(&self, id: PendingId) -> Result<Subscription<T>, StoreError> {
        Ok(self.shared.notifier.subscribe(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct P {
        s: String,
        n: u64,
    }

    fn record(state: RecordState, labels: [Option<&str>; 3]) -> Record<P> {
        Record {
            id: PendingId::random(),
            namespace: Namespace::new("ünï").expect("namespace"),
            created_at: Timestamp::from_millis(1_700_000_000_000),
            expires_at: Timestamp::from_millis(1_700_000_600_000),
            state,
            body: Arc::new(Body::new(
                P {
                    s: "a \"b\"\n\u{0}🦀".into(),
                    n: u64::MAX,
                },
                labels[0].map(String::from),
                labels[1].map(String::from),
                labels[2].map(String::from),
            )),
        }
    }

    fn round_trip(r: &Record<P>) -> Record<P> {
        let fields = encode_fields(r).expect("encode");
        decode(
            r.id,
            fields.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())),
        )
        .expect("decode")
    }

    #[test]
    fn fields_round_trip_every_state_and_label() {
        let at = Timestamp::from_millis(1_700_000_100_000);
        for state in [
            RecordState::Open,
            RecordState::Completed { at },
            RecordState::Cancelled {
                at,
                reason: CancelReason::Cancelled,
            },
            RecordState::Cancelled {
                at,
                reason: CancelReason::Declined,
            },
        ] {
            for labels in [
                [None, None, None],
                [Some(""), None, Some("x")],
                [Some("ålias"), Some("res"), Some("el")],
            ] {
                let r = record(state, labels);
                assert_eq!(round_trip(&r), r);
            }
        }
        // Expired reads back at the deadline, like the memory store.
        let r = record(RecordState::Expired { at }, [None; 3]);
        assert_eq!(
            round_trip(&r).state,
            RecordState::Expired { at: r.expires_at }
        );
    }

    #[test]
    fn malformed_fields_are_decode_errors() {
        let r = record(RecordState::Open, [None; 3]);
        let fields = encode_fields(&r).expect("encode");
        for drop in ["n", "c", "e", "s", "d"] {
            let pairs = fields
                .iter()
                .filter(|(k, _)| *k != drop)
                .map(|(k, v)| (k.as_bytes(), v.as_bytes()));
            assert!(
                matches!(decode::<P>(r.id, pairs), Err(StoreError::Decode(_))),
                "{drop}"
            );
        }
        let bad = [
            ("n", ""),
            ("c", "x"),
            ("e", "-1"),
            ("s", "q"),
            ("d", "{"),
            ("s", "c"),
        ];
        for (k, v) in bad {
            let pairs = fields.iter().map(|(f, x)| {
                (
                    f.as_bytes(),
                    if *f == k { v.as_bytes() } else { x.as_bytes() },
                )
            });
            assert!(decode::<P>(r.id, pairs).is_err(), "{k}={v}");
        }
    }

    #[test]
    fn hash_replies_decode_from_arrays_and_maps() {
        let r = record(RecordState::Open, [Some("a"), None, None]);
        let fields = encode_fields(&r).expect("encode");
        let flat = Value::Array(
            fields
                .iter()
                .flat_map(|(k, v)| {
                    [
                        Value::BulkString(k.as_bytes().to_vec()),
                        Value::BulkString(v.as_bytes().to_vec()),
                    ]
                })
                .collect(),
        );
        let map = Value::Map(
            fields
                .iter()
                .map(|(k, v)| {
                    (
                        Value::BulkString(k.as_bytes().to_vec()),
                        Value::BulkString(v.as_bytes().to_vec()),
                    )
                })
                .collect(),
        );
        assert_eq!(
            decode_hash::<P>(r.id, &flat).expect("flat"),
            Some(r.clone())
        );
        assert_eq!(decode_hash::<P>(r.id, &map).expect("map"), Some(r.clone()));
        assert_eq!(
            decode_hash::<P>(r.id, &Value::Array(vec![])).expect("empty"),
            None
        );
        assert!(decode_hash::<P>(r.id, &Value::Int(1)).is_err());
    }

    #[tokio::test]
    async fn events_wake_with_or_without_the_record() {
        let n = Notifier::<P>::new();
        let r = record(
            RecordState::Completed {
                at: Timestamp::from_millis(1_700_000_100_000),
            },
            [None; 3],
        );
        let mut sub = n.subscribe(r.id);
        on_event(&n, record_message(&r).expect("message").as_bytes());
        assert_eq!(sub.changed().await.as_deref(), Some(&r));
        on_event(&n, r.id.encode().as_str().as_bytes());
        assert!(sub.changed().await.is_none());
        // Garbage is ignored.
        on_event(&n, b"not an id");
        on_event(&n, b"");
        assert!(sub.try_changed().is_none());
    }

    #[test]
    fn limits_map_to_lua_numbers() {
        assert_eq!(limit_arg(0), 0);
        assert_eq!(limit_arg(1_000), 1_000);
        assert_eq!(limit_arg(usize::MAX), -1);
        assert_eq!(label_arg(None), "-");
        assert_eq!(label_arg(Some("")), "+");
    }
}
