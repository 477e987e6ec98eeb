//! The namespace and store-wide operations: list, clear and purge.

use std::str::FromStr;

use serde::Serialize;
use serde::de::DeserializeOwned;

use std::sync::Weak;
use std::time::Duration;

use super::codec::{bytes, decode_hash, int};
use super::conn::{eval, evalsha};
use super::error::{backend, reply};
use super::scripts::{CLEAR, PURGE};
use super::{RedisStore, Shared};
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::store::{Record, StoreError, lifecycle};
use crate::time::Timestamp;

/// How many records clear and purge remove per script call (the time Redis is blocked).
const BATCH: usize = 256;

/// How many records a list reads per pipeline.
const READ_BATCH: usize = 512;

/// The ids a clear or purge script removed, and whether it examined a full batch; the
/// purge script's reply has one more count (`counts`: 2), what it kept.
fn removed(v: &redis::Value, counts: usize) -> Result<(Vec<PendingId>, bool), StoreError> {
    let redis::Value::Array(items) = v else {
        return Err(reply("batch reply"));
    };
    let examined = items
        .first()
        .and_then(int)
        .ok_or_else(|| reply("batch count"))?;
    let ids = items.get(counts..).ok_or_else(|| reply("batch reply"))?;
    let ids = ids
        .iter()
        .filter_map(|m| bytes(m).and_then(|b| std::str::from_utf8(b).ok()))
        .filter_map(|s| PendingId::from_str(s).ok())
        .collect();
    Ok((ids, usize::try_from(examined).unwrap_or(0) >= BATCH))
}

impl<T> RedisStore<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// The open records of a namespace: its ids scored after `now` (open, unexpired), then
    /// their records, read in pipelines.
    pub(super) async fn list(
        &self,
        namespace: &Namespace,
        now: Timestamp,
    ) -> Result<Vec<Record<T>>, StoreError> {
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
        for chunk in members.chunks(READ_BATCH) {
            let mut p = redis::pipe();
            for m in chunk {
                p.cmd("HGETALL").arg(keys.record(m));
            }
            let replies: Vec<redis::Value> = p.query_async(&mut conn).await.map_err(backend)?;
            for (m, v) in chunk.iter().zip(&replies) {
                let Ok(id) = PendingId::from_str(m) else {
                    continue;
                };
                if let Some(r) = decode_hash::<T>(id, v, now)?
                    && &r.namespace == namespace
                    && r.state.is_open()
                {
                    out.push(r);
                }
            }
        }
        Ok(out)
    }

    /// Removes every record of a namespace, in batches.
    pub(super) async fn clear(&self, namespace: &Namespace) -> Result<usize, StoreError> {
        let keys = &self.shared.keys;
        let nk = keys.namespace(namespace.as_str());
        let mut conn = self.conn();
        let mut cleared = 0;
        loop {
            let mut cmd = evalsha(&CLEAR.script, 2);
            cmd.arg(&nk)
                .arg(&keys.all)
                .arg(&keys.base)
                .arg(&keys.channel)
                .arg(namespace.as_str())
                .arg(BATCH);
            let v = eval(&mut conn, CLEAR.source, &cmd).await?;
            let (ids, full) = removed(&v, 1)?;
            cleared += ids.len();
            self.notify_local(&ids);
            if !full {
                return Ok(cleared);
            }
        }
    }
}

impl<T: Send + Sync + 'static> RedisStore<T> {
    /// Forgets every record whose retention window ended by `now`, in batches.
    pub(super) async fn forget_ended(&self, now: Timestamp) -> Result<usize, StoreError> {
        let retention = u64::try_from(self.shared.retention.as_millis()).unwrap_or(u64::MAX);
        let Some(max) = now.as_millis().checked_sub(retention) else {
            return Ok(0);
        };
        self.purge_up_to(max, None).await
    }

    /// Purges up to the score `max`, or with `behind`, up to Redis's own clock minus it.
    /// With zero retention a finished record is forgotten only
    /// [`WAKE_GRACE`](lifecycle::WAKE_GRACE) after it finished (it may await its
    /// [`Wake::Later`](crate::store::Wake::Later) wake-up); the entries kept for that are
    /// skipped by the next batches.
    async fn purge_up_to(&self, max: u64, behind: Option<u64>) -> Result<usize, StoreError> {
        let keys = &self.shared.keys;
        let grace = if self.shared.retention.is_zero() {
            u64::try_from(lifecycle::WAKE_GRACE.as_millis()).unwrap_or(u64::MAX)
        } else {
            0
        };
        let mut conn = self.conn();
        let mut purged = 0;
        let mut kept: i64 = 0;
        loop {
            let mut cmd = evalsha(&PURGE.script, 1);
            cmd.arg(&keys.all)
                .arg(max)
                .arg(BATCH)
                .arg(&keys.base)
                .arg(&keys.channel)
                .arg(grace)
                .arg(kept);
            if let Some(behind) = behind {
                cmd.arg(behind);
            }
            let v = eval(&mut conn, PURGE.source, &cmd).await?;
            let (ids, full) = removed(&v, 2)?;
            if let redis::Value::Array(items) = &v {
                kept += items.get(1).and_then(int).unwrap_or(0);
            }
            purged += ids.len();
            self.notify_local(&ids);
            if !full {
                return Ok(purged);
            }
        }
    }

    /// Wakes the local waiters of records a clear or purge removed (the scripts published
    /// the events for other replicas), and drops what this store kept of them
    /// ([`Recent`](super::recent::Recent)).
    fn notify_local(&self, ids: &[PendingId]) {
        for id in ids {
            self.shared.recent.take(*id);
            self.shared.notifier.notify(*id);
        }
    }
}

/// The store's own purge: every `every` (at least a second), forgets what a purge at
/// Redis's clock (`TIME`, so this host's clock does not matter) minus `every` would (so the
/// clocks of services running up to `every` behind Redis's are allowed for; see
/// [`RedisStoreBuilder::ttl_slack`](super::RedisStoreBuilder::ttl_slack)), for as long as
/// the store is alive. Records carry no TTL (purge removes them together with their index
/// entries), so this is what bounds Redis's memory when no sweeper runs.
pub(super) async fn sweep<T: Send + Sync + 'static>(shared: Weak<Shared<T>>, every: Duration) {
    let every = every.max(Duration::from_secs(1));
    loop {
        tokio::time::sleep(every).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let behind = u64::try_from(shared.retention.saturating_add(every).as_millis())
            .unwrap_or(u64::MAX)
            .min(1 << 52);
        let store = RedisStore { shared };
        // Best effort: the next round tries again.
        let _ = store.purge_up_to(0, Some(behind)).await;
    }
}
