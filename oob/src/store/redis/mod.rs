//! [`RedisStore`]: a store shared by the replicas of a service, in Redis (or Redis Cluster).
//!
//! # Layout
//!
//! With the prefix `P` (default [`DEFAULT_PREFIX`]) and the payload kind `K`
//! ([`OobPayload::KIND`]), every key starts with `P` `K` `:`
//! (written `B` below), so payload types may share a prefix and a record read with
//! another kind is not found:
//!
//! | key | type | holds |
//! |-----|------|-------|
//! | `B` `p:` id | hash | one record (see the fields in `codec.rs`) |
//! | `B` `n:` namespace | sorted set | the namespace's ids |
//! | `B` `all` | sorted set | every id |
//! | `B` `j:` dedup key | sorted set | the ids with one (namespace, alias, resource), by deadline (finished ones until a dedup lookup or purge drops them) |
//! | `B` `x:` dedup key | string | the id of the latest decline with that key |
//! | `B` `events` | channel | change events |
//!
//! The namespace and store indexes score an id by its deadline while it is open, and by
//! when it finished (or earlier) after that; so `ZCOUNT (now +inf` counts the open,
//! unexpired records of a namespace or of the store, and a create at a bound discounts the
//! finished ones scored after its own `now` (a finisher whose clock runs ahead; see
//! `create.lua`), and `ZRANGEBYSCORE -inf (now - retention)` finds what
//! [`purge`](Store::purge) forgets (an entry a create scored lower is found early, and
//! purge puts it back at its finish time; see `purge.lua`). Record keys carry no TTL, so no index entry outlives its
//! record: purge removes both. Every connected store also purges by itself every
//! [`ttl_slack`](RedisStoreBuilder::ttl_slack), so Redis forgets ended records even when
//! no sweeper runs.
//!
//! # Cost per operation
//!
//! Nothing scans more than it returns or repairs: a create is one script (a `ZADD NX` to
//! the store index, which is also the duplicate-id check; for dedup a
//! `ZRANGEBYSCORE … LIMIT 0 1` and `HGETALL` of what it finds, dropping the finished ids it
//! meets, and at most a `GET` and `HMGET` of the latest decline; one `ZCOUNT` per bound,
//! and only at a bound a look at up to min(bound + 1, 256) of its lowest-scored entries
//! plus the finished ones it moves out of the count (see `create.lua`: so a bound above
//! 256 may count, until this call's clock passes its finish time, a record finished by a
//! clock ahead of this one, and refuse a create the other stores accept);
//! the `HSET` and two more `ZADD`s). A complete or cancel of a record this store created
//! lately is one short script (`finish.lua`: an `HMGET` of two short fields, whether the
//! record exists and whether it finished, then only for an open record the finish marker,
//! two `ZADD`s re-scoring it by its finish time and the `PUBLISH`), reading nothing of the
//! record back (the store keeps what it created lately; see `finish.rs`); any other
//! transition (of another replica's record, an unknown id, a decline, or one that must
//! check the namespace) is one script of `O(log n)` commands. A get is one `HGETALL`; a
//! list reads the open ids of the namespace and their records; clear and purge handle
//! batches of what they remove.
//!
//! For that complete, each store keeps in memory the records it created lately (at most
//! 65,536; each dropped once a transition, clear or purge through this store meets it, or
//! once it is pushed out or found past its deadline first in line):
//! the record's fields and its namespace index key, with the payload and labels shared with
//! the pending the caller holds (so a pending dropped without being completed keeps its
//! payload in memory until its entry goes).
//!
//! # Keys the scripts do not declare
//!
//! Every key a script touches starts with the store's prefix, so with a hash-tagged prefix
//! all of them share one slot, but the scripts also touch keys named by a record's fields
//! or an index entry (the namespace and dedup indexes of the record a transition, purge or
//! forget handles, the records a clear or purge removes, the record a dedup lookup finds,
//! the records a create at a bound looks at and the namespace indexes of those it
//! re-scores),
//! which they cannot declare in `KEYS` before reading them. Redis runs such scripts (the
//! keys are in the slot of the declared ones), but during a live reshard that migrates the
//! store's slot a script may fail with a cross-slot or `TRYAGAIN` error (the operation fails,
//! nothing is half-written); retry it after the migration.
//!
//! # Zero retention
//!
//! A transition marks the record finished and returns it; the store then wakes its local
//! waiters with it, and only then removes it with a script that first publishes the record
//! to the other replicas (so no reader that subscribed finds neither the record nor the
//! event). With [`Wake::Later`], the same happens in [`wake`](Store::wake); until then a
//! purge keeps the record for [`WAKE_GRACE`](crate::store::lifecycle::WAKE_GRACE) after it
//! finished (the manager's persist step runs in between), and removes it after that (a
//! completer that died before its wake-up); later batches of the purge skip the entries it
//! keeps.
//!
//! # Redis Cluster
//!
//! Connect with [`RedisTarget::cluster`]: the store then follows the cluster's
//! redirections and failovers. Every key of a store must live in one slot, so the prefix
//! must carry a hash tag (e.g. `{oob}:`); [`connect`](RedisStoreBuilder::connect) refuses
//! one without. Events are plain `PUBLISH`es, which reach every node; the subscriber
//! listens on one node and moves to the next when it is lost, among the nodes given and
//! those the cluster named (`CLUSTER NODES`, asked at each subscription), so a failover
//! that takes the given nodes away leaves it nodes to move to.
//!
//! # Durability
//!
//! Redis acknowledges a write before it reaches a replica or the disk. For writes that
//! survive a primary's loss, use
//! [`wait_for_replicas`](RedisStoreBuilder::wait_for_replicas) (the write is acknowledged
//! only once that many replicas have it) and, against a crash of every node,
//! `appendfsync always` on the servers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    CreateError, Created, Dedup, Limits, NewRecord, Notifier, Record, Store, StoreError,
    Subscription, TransitionError, Wake,
};
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::payload::OobPayload;
use crate::state::CancelReason;
use crate::store::NamespaceScope;
use crate::time::Timestamp;

mod builder;
mod codec;
pub(crate) mod conn;
mod error;
mod events;
mod finish;
mod keys;
mod maintenance;
mod recent;
mod scripts;
#[cfg(test)]
mod tests;
mod transitions;
pub(crate) mod vault;

pub use builder::RedisStoreBuilder;
pub use conn::RedisTarget;
pub use error::RedisStoreError;
pub use vault::RedisVault;

/// The default key prefix.
pub const DEFAULT_PREFIX: &str = "oob:";

pub use crate::store::lifecycle::DEFAULT_RETENTION;

/// How often a connected store purges by itself, and how far behind Redis's clock it
/// purges (the allowance for services whose clocks run behind Redis's): a record is
/// forgotten at most about twice this after its retention window ended, with or without
/// a sweeper (see [`RedisStoreBuilder::ttl_slack`], also for clocks further behind).
pub const DEFAULT_TTL_SLACK: Duration = Duration::from_secs(60);

/// A [`Store`] in Redis, shared by every replica that uses the same server and prefix.
///
/// Atomic transitions in one round trip, per-namespace and per-dedup-key indexes kept with
/// the records, purged together with them (by the store itself too, no key TTLs), and change events over pub/sub, so a waiter on one replica wakes
/// when another replica completes (see the [module docs](self) for the layout, the cost of
/// each operation and Redis Cluster). Payloads are stored as JSON. Cloning shares the
/// connection.
///
/// While Redis is unreachable every operation fails fast with a [`StoreError::Backend`]
/// whose source is a [`RedisStoreError::Unavailable`]; the store reconnects by itself once
/// Redis is back.
///
/// ```no_run
/// use oob::store::RedisStore;
///
/// # #[derive(serde::Serialize, serde::Deserialize, oob::OobPayload)]
/// # #[oob(kind = "device_code", route = "/oob/cb/{id}")] struct Payload;
/// # async fn run() -> Result<(), oob::store::StoreError> {
/// let client = redis::Client::open("redis://127.0.0.1:6379/").map_err(oob::store::StoreError::backend)?;
/// let store: RedisStore<Payload> = RedisStore::builder(client).prefix("{oob}:").connect().await?;
///
/// // On Redis Cluster:
/// let nodes = ["redis://10.0.0.1:7000/", "redis://10.0.0.2:7000/"];
/// let target = oob::store::redis::RedisTarget::cluster(nodes)?;
/// let store: RedisStore<Payload> = RedisStore::builder(target).prefix("{oob}:").connect().await?;
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
    conn: conn::Conn,
    /// The connection creates and transitions go on: `conn` itself, or with
    /// [`wait_for_replicas`](RedisStoreBuilder::wait_for_replicas) a connection of their
    /// own, since `WAIT` covers its connection's writes and holds the connection while it
    /// waits (reads, lists, purges and clears stay on `conn` and are not held).
    writes: conn::Conn,
    keys: keys::Keys,
    retention: Duration,
    slack: Duration,
    replicas: Option<(u32, Duration)>,
    notifier: Notifier<T>,
    subscribed: Arc<AtomicBool>,
    subscriber: tokio::task::JoinHandle<()>,
    sweeper: tokio::task::JoinHandle<()>,
    recent: recent::Recent<T>,
}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        self.subscriber.abort();
        self.sweeper.abort();
    }
}

impl<T> RedisStore<T> {
    /// Options for a store on `target`: a [`redis::Client`] (one server) or a
    /// [`RedisTarget::cluster`].
    #[must_use]
    pub fn builder(target: impl Into<RedisTarget>) -> RedisStoreBuilder<T> {
        RedisStoreBuilder::new(target.into())
    }

    /// A store with the default options on the server at `url` (e.g.
    /// `redis://127.0.0.1:6379/`).
    ///
    /// # Errors
    /// When the URL is invalid or Redis cannot be reached.
    pub async fn open(url: &str) -> Result<Self, StoreError>
    where
        T: OobPayload + DeserializeOwned + Send + Sync + 'static,
    {
        let client = redis::Client::open(url).map_err(error::backend)?;
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

    fn conn(&self) -> conn::Conn {
        self.shared.conn.clone()
    }

    fn writes(&self) -> conn::Conn {
        self.shared.writes.clone()
    }
}

impl<T> Store<T> for RedisStore<T>
where
    T: OobPayload + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn name(&self) -> &'static str {
        "redis"
    }

    fn follows_refusal_order(&self) -> bool {
        true
    }

    fn retention(&self) -> std::time::Duration {
        Self::retention(self)
    }

    async fn create(
        &self,
        new: &NewRecord<T>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> Result<Created<T>, CreateError> {
        self.insert(new.record(), limits, dedup, now).await
    }

    async fn get(&self, id: PendingId, now: Timestamp) -> Result<Option<Record<T>>, StoreError> {
        self.read(id, now).await
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
        self.wake_later(record).await
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
        scope: NamespaceScope<'_>,
        now: Timestamp,
    ) -> Result<Vec<Record<T>>, StoreError> {
        self.list(scope.namespace(), now).await
    }

    async fn clear_namespace(&self, scope: NamespaceScope<'_>) -> Result<usize, StoreError> {
        self.clear(scope.namespace()).await
    }

    async fn purge(&self, now: Timestamp) -> Result<usize, StoreError> {
        self.forget_ended(now).await
    }

    async fn subscribe(&self, id: PendingId) -> Result<Subscription<T>, StoreError> {
        Ok(self.shared.notifier.subscribe(id))
    }
}
