//! [`RedisVault`]: a [`Vault`] in Redis beside a [`RedisStore`](crate::store::RedisStore), so the
//! replicas of a service share what their interactions obtained (feature `redis`).
//!
//! # Layout
//!
//! With the prefix `P` (default [`DEFAULT_PREFIX`](crate::store::redis::DEFAULT_PREFIX)), and the
//! namespace `n` written with its byte length first (`len:n`, so no namespace and key pair
//! can spell another's key):
//!
//! | key | type | holds |
//! |-----|------|-------|
//! | `P` `v:` len`:`n`:`key | hash | one entry: value `val` (JSON), written `w`, expiry `e` (ms, or empty), version `v` |
//! | `P` `vk:` len`:`n | sorted set | the namespace's keys, scored by expiry (`+inf`: none) |
//!
//! A write (with its compare-and-swap) and a delete are one script each over the entry and
//! its namespace index, so each is atomic. Expiry is decided by the vault's clock on every
//! read; an entry key also gets a `PEXPIREAT` a slack after its expiry, and an index the
//! slack after its longest-lived entry's (none while one never expires; Redis deletes an
//! index left empty), so Redis forgets expired entries, and the index of a namespace
//! nobody writes again, by itself.
//!
//! # Redis Cluster
//!
//! Connect with a [`RedisTarget::cluster`] (see [`RedisVault::connect_with_prefix`]): the
//! vault then follows the cluster's redirections and failovers, as the store does. A script
//! may only touch keys of one slot, so the prefix must carry a hash tag (e.g. `{oob}:`):
//! every key of the vault then hashes to the slot of that tag.

mod errors;
mod scan;

use std::marker::PhantomData;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{Cmd, Script, Value};
use serde::Serialize;
use serde::de::DeserializeOwned;

use self::errors::{backend, entry_error, malformed, parse_u64, untagged};
use super::conn::{Conn, RedisTarget, eval_redis, evalsha};
use super::keys::{has_hash_tag, slot};
use super::{DEFAULT_PREFIX, RedisStoreError};
use crate::CodecError;
use crate::capability::Capability;
use crate::store::StoreError;
use crate::time::{Clock, SystemClock, Timestamp};
use crate::vault::{Entry, Expect, Vault, VaultError, Version, WriteOptions, WriteStart};

/// How long after an entry's expiry Redis deletes its key by itself (clock skew allowance).
const SLACK: Duration = Duration::from_secs(60);

/// The write script (its header names KEYS and ARGV), with the index rule appended.
const WRITE_LUA: &str = concat!(include_str!("write.lua"), include_str!("index.lua"));
/// The delete script (its header names KEYS and ARGV), with the index rule appended.
const DELETE_LUA: &str = concat!(include_str!("delete.lua"), include_str!("index.lua"));

static WRITE: LazyLock<Script> = LazyLock::new(|| Script::new(WRITE_LUA));
static DELETE: LazyLock<Script> = LazyLock::new(|| Script::new(DELETE_LUA));

/// A [`Vault`] in Redis, shared by every replica on the same server (or cluster) and
/// prefix. Put it under `EncryptedVault` (feature `encryption`) to keep values
/// sealed at rest. Cloning shares the connection.
///
/// It connects wherever a [`RedisStore`](crate::store::RedisStore) does: a
/// [`redis::Client`] (one server) or a [`RedisTarget::cluster`]. On a cluster the prefix
/// must carry a hash tag (e.g. `{oob}:`), so every key of an operation lives in one slot:
/// [`connect_with_prefix`](Self::connect_with_prefix) refuses one without, and a vault
/// given one by [`with_prefix`](Self::with_prefix) fails every operation with
/// [`RedisStoreError::Config`].
///
/// ```no_run
/// # async fn run() -> Result<(), oob::store::StoreError> {
/// use oob::store::RedisTarget;
/// use oob::vault::RedisVault;
/// // One server:
/// let client = redis::Client::open("redis://127.0.0.1:6379/").map_err(oob::store::StoreError::backend)?;
/// let vault = RedisVault::<String>::connect(client).await?.with_prefix("oob:");
/// // A Redis Cluster, reached through any of its nodes:
/// let nodes = ["redis://10.0.0.1:7000/", "redis://10.0.0.2:7000/"];
/// let shared = RedisVault::<String>::connect_with_prefix(RedisTarget::cluster(nodes)?, "{oob}:").await?;
/// # let _ = (vault, shared); Ok(()) }
/// ```
pub struct RedisVault<V> {
    conn: Conn,
    cluster: bool,
    prefix: Arc<str>,
    replicas: Option<(u32, Duration)>,
    clock: Arc<dyn Clock>,
    _value: PhantomData<fn() -> V>,
}

impl<V> std::fmt::Debug for RedisVault<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisVault")
            .field("cluster", &self.cluster)
            .field("prefix", &self.prefix)
            .field("wait_for_replicas", &self.replicas)
            .finish_non_exhaustive()
    }
}

impl<V> Clone for RedisVault<V> {
    fn clone(&self) -> Self {
        Self {
            conn: self.conn.clone(),
            cluster: self.cluster,
            prefix: self.prefix.clone(),
            replicas: self.replicas,
            clock: self.clock.clone(),
            _value: PhantomData,
        }
    }
}

impl<V> RedisVault<V> {
    /// Connects to `target`, a [`redis::Client`] (one server) or a
    /// [`RedisTarget::cluster`] (1 s to connect, 2 s per reply), with the default prefix and
    /// the system clock. The default prefix has no hash tag: on a cluster, use
    /// [`connect_with_prefix`](Self::connect_with_prefix).
    ///
    /// # Errors
    /// Redis cannot be reached.
    pub async fn connect(target: impl Into<RedisTarget>) -> Result<Self, StoreError> {
        let target = target.into();
        let conn = target
            .connect(Duration::from_secs(1), Duration::from_secs(2))
            .await?;
        Ok(Self::with_conn(conn, target.is_cluster()))
    }

    /// [`connect`](Self::connect) with the key prefix `prefix` (see
    /// [`with_prefix`](Self::with_prefix)).
    ///
    /// # Errors
    /// The target is a cluster and `prefix` has no hash tag
    /// ([`RedisStoreError::Config`], checked before connecting), or Redis cannot be reached.
    pub async fn connect_with_prefix(
        target: impl Into<RedisTarget>,
        prefix: &str,
    ) -> Result<Self, StoreError> {
        let target = target.into();
        if target.is_cluster() && !has_hash_tag(prefix) {
            return Err(StoreError::Backend(Box::new(untagged())));
        }
        Ok(Self::connect(target).await?.with_prefix(prefix))
    }

    /// A vault on an existing connection to one server (e.g. the one a service already
    /// holds).
    #[must_use]
    pub fn on(conn: ConnectionManager) -> Self {
        Self::with_conn(Conn::Single(conn), false)
    }

    fn with_conn(conn: Conn, cluster: bool) -> Self {
        Self {
            conn,
            cluster,
            prefix: Arc::from(DEFAULT_PREFIX),
            replicas: None,
            clock: Arc::new(SystemClock),
            _value: PhantomData,
        }
    }

    /// The key prefix (default [`DEFAULT_PREFIX`]): it ends with `:`, and on Redis Cluster
    /// carries a hash tag, e.g. `{oob}:`, else every operation fails with
    /// [`RedisStoreError::Config`]. Vaults with one prefix share entries.
    #[must_use]
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = Arc::from(prefix);
        self
    }

    /// After every write and delete, waits (`WAIT`) until `replicas` replicas of the primary
    /// acknowledged it, at most `timeout`; fewer fails the call with
    /// [`RedisStoreError::NotReplicated`] (the write itself stays applied), as
    /// [`RedisStoreBuilder::wait_for_replicas`](super::RedisStoreBuilder::wait_for_replicas)
    /// does for the store. Without it, a primary lost before it replicated takes its last
    /// acknowledged writes with it. A `timeout` longer than Redis takes (e.g.
    /// [`Duration::MAX`]) waits as long as Redis allows (millions of years). Default: off.
    #[must_use]
    pub fn with_wait_for_replicas(mut self, replicas: u32, timeout: Duration) -> Self {
        self.replicas = (replicas > 0).then_some((replicas, timeout));
        self
    }

    /// The clock expiry is decided by.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Refuses a prefix that does not end with `:` (as the store does: one store's or
    /// vault's keys must not begin another's), or that would spread the vault's keys over
    /// slots of a cluster.
    fn usable(&self) -> Result<(), VaultError> {
        if !self.prefix.ends_with(':') {
            return Err(VaultError::Backend(Box::new(RedisStoreError::Config(
                "the prefix must end with `:` (e.g. `oob:`, or `{oob}:` on a cluster)",
            ))));
        }
        if self.cluster && !has_hash_tag(&self.prefix) {
            return Err(VaultError::Backend(Box::new(untagged())));
        }
        Ok(())
    }

    fn entry_key(&self, ns: &str, key: &str) -> Result<String, VaultError> {
        self.usable()?;
        Ok(format!("{}v:{}:{ns}:{key}", self.prefix, ns.len()))
    }

    fn index_key(&self, ns: &str) -> Result<String, VaultError> {
        self.usable()?;
        Ok(format!("{}vk:{}:{ns}", self.prefix, ns.len()))
    }

    /// With [`with_wait_for_replicas`](Self::with_wait_for_replicas): waits until enough
    /// replicas acknowledged every write so far to the primary that holds `key`.
    async fn replicated(&self, key: &str) -> Result<(), VaultError> {
        let Some((wanted, timeout)) = self.replicas else {
            return Ok(());
        };
        let mut cmd = redis::cmd("WAIT");
        cmd.arg(wanted).arg(super::conn::wait_timeout_ms(timeout));
        let answer = self
            .conn
            .clone()
            .send_to_slot_primary(slot(key), cmd)
            .await
            .map_err(backend)?;
        let acked: i64 = redis::from_redis_value(answer).map_err(|_| malformed("WAIT reply"))?;
        if acked >= i64::from(wanted) {
            Ok(())
        } else {
            Err(VaultError::Backend(Box::new(
                RedisStoreError::NotReplicated { acked, wanted },
            )))
        }
    }

    /// Runs a script call built by [`evalsha`] (reloading it where the keys live on
    /// `NOSCRIPT`).
    async fn script(&self, source: &str, cmd: &Cmd) -> Result<Value, VaultError> {
        eval_redis(&mut self.conn.clone(), source, cmd)
            .await
            .map_err(backend)
    }
}

fn ms(t: Timestamp) -> u64 {
    t.as_millis()
}

impl<V> Vault<V> for RedisVault<V>
where
    V: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    async fn write(
        &self,
        token: &dyn Capability,
        key: &str,
        value: V,
        options: WriteOptions,
    ) -> Result<Version, VaultError> {
        crate::vault::check_key(key)?;
        let w = WriteStart::new(token, &value, &*self.clock)?;
        let (ns, now) = (w.namespace, ms(w.now));
        let (mode, expected) = match options.expect() {
            Expect::Any => ("any", String::new()),
            Expect::Absent => ("absent", String::new()),
            Expect::Version(v) => ("version", v.get().to_string()),
        };
        let expires = options.expires_at.map(ms);
        let text = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
        let entry = self.entry_key(ns, key)?;
        let mut cmd = evalsha(&WRITE, 2);
        cmd.arg(&entry)
            .arg(self.index_key(ns)?)
            .arg(now)
            .arg(mode)
            .arg(expected)
            .arg(w.version.get().to_string())
            .arg(w.json)
            .arg(text(expires))
            .arg(key)
            // No key TTL past what Redis takes (an expiry years away is then kept by the
            // entry's `e` alone: reads and the index still end it on time).
            .arg(text(
                expires
                    .map(|e| e.saturating_add(ms_of(SLACK)))
                    .filter(|e| *e <= MAX_KEY_EXPIRY),
            ))
            .arg(ms_of(SLACK))
            .arg(MAX_KEY_EXPIRY);
        let (done, current): (i64, String) =
            redis::from_redis_value(self.script(WRITE_LUA, &cmd).await?)
                .map_err(|_| malformed("vault write reply"))?;
        if done == 1 {
            self.replicated(&entry).await?;
            return Ok(w.version);
        }
        let current = if current.is_empty() {
            None
        } else {
            Some(Version::from_u64(parse_u64(&current, "vault version")?))
        };
        Err(VaultError::Conflict { current })
    }

    async fn read(
        &self,
        token: &dyn Capability,
        key: &str,
    ) -> Result<Option<Entry<V>>, VaultError> {
        crate::vault::check_key(key)?;
        let ns = token.namespace().as_str();
        let now = ms(self.clock.now());
        let fields: Vec<Option<String>> = redis::cmd("HMGET")
            .arg(self.entry_key(ns, key)?)
            .arg(&["val", "w", "e", "v"][..])
            .query_async(&mut self.conn.clone())
            .await
            .map_err(entry_error)?;
        let [Some(val), Some(w), e, Some(v)] =
            <[Option<String>; 4]>::try_from(fields).map_err(|_| malformed("vault entry"))?
        else {
            return Ok(None);
        };
        let expires = match e.as_deref() {
            None | Some("") => None,
            Some(e) => Some(parse_u64(e, "vault expiry")?),
        };
        if expires.is_some_and(|e| e <= now) {
            return Ok(None);
        }
        let value = serde_json::from_str(&val)
            .map_err(|e| VaultError::Codec(Box::new(CodecError::decoding(&e))))?;
        Ok(Some(Entry::at(
            value,
            Timestamp::from_millis(parse_u64(&w, "vault write time")?),
            expires.map(Timestamp::from_millis),
            Version::from_u64(parse_u64(&v, "vault version")?),
        )))
    }

    async fn delete(&self, token: &dyn Capability, key: &str) -> Result<bool, VaultError> {
        crate::vault::check_key(key)?;
        let ns = token.namespace().as_str();
        let entry = self.entry_key(ns, key)?;
        let mut cmd = evalsha(&DELETE, 2);
        cmd.arg(&entry)
            .arg(self.index_key(ns)?)
            .arg(ms(self.clock.now()))
            .arg(key)
            .arg(ms_of(SLACK))
            .arg(MAX_KEY_EXPIRY);
        let live: i64 = redis::from_redis_value(self.script(DELETE_LUA, &cmd).await?)
            .map_err(|_| malformed("vault delete reply"))?;
        self.replicated(&entry).await?;
        Ok(live == 1)
    }

    async fn keys(&self, token: &dyn Capability) -> Result<Vec<String>, VaultError> {
        let ns = token.namespace().as_str();
        let now = ms(self.clock.now());
        let members: Vec<Vec<u8>> = redis::cmd("ZRANGEBYSCORE")
            .arg(self.index_key(ns)?)
            .arg(format!("({now}"))
            .arg("+inf")
            .query_async(&mut self.conn.clone())
            .await
            .map_err(backend)?;
        // A member that is not UTF-8 (edited by hand) names no key a vault call can take:
        // left out, like an entry under a key that breaks the key rule.
        let mut keys: Vec<String> = members
            .into_iter()
            .filter_map(|m| String::from_utf8(m).ok())
            .collect();
        keys.sort_unstable();
        Ok(keys)
    }
}

/// The latest key expiry the vault asks Redis for (9999-12-31, in ms): `PEXPIREAT` refuses
/// times near `i64::MAX`, and failed after the entry's `HSET`, leaving a half-done write.
const MAX_KEY_EXPIRY: u64 = 253_402_300_799_999;

fn ms_of(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
