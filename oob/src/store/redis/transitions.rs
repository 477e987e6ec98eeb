//! The atomic operations on one record: create, get, the transitions (complete, cancel,
//! decline), and the wake-up and removal that follow them.

use std::str::FromStr;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::RedisStore;
use super::codec::{
    bytes, decode_hash, decode_transitioned, encode_fields, finished_of, int, record_message,
    tagged,
};
use super::conn::{eval, evalsha};
use super::error::{RedisStoreError, backend, reply};
use super::keys::dedup_key;
use super::scripts::{CREATE, FORGET, Lua, TRANSITION};
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::state::CancelReason;
use crate::store::{
    CreateError, Created, Dedup, Limits, Record, RecordState, Scope, StoreError, TransitionError,
    Wake, lifecycle,
};
use crate::time::Timestamp;

/// Latest representable key expiry (far beyond any real deadline; keeps `PEXPIREAT` valid).
const MAX_EXPIRE_MS: u64 = 1 << 52;

/// The state a transition to `to` (`c`, `x` or `d`) at `now` leaves.
fn new_state(to: &str, now: Timestamp) -> RecordState {
    match to {
        "c" => RecordState::Completed { at: now },
        "x" => RecordState::Cancelled {
            at: now,
            reason: CancelReason::Cancelled,
        },
        _ => RecordState::Cancelled {
            at: now,
            reason: CancelReason::Declined,
        },
    }
}

/// Adds to `p` what follows a transition's win: the record re-scored by its finish time
/// in its namespace index and the store index (`XX`: an entry a clear or purge removed is
/// not put back), and the event. Its dedup index entry stays: a dedup lookup drops the
/// finished ids it meets, purge the rest.
fn moves(
    p: &mut redis::Pipeline,
    keys: &super::keys::Keys,
    namespace_index: &str,
    id: &str,
    at: u64,
    publish: bool,
) {
    p.cmd("ZADD")
        .arg(namespace_index)
        .arg("XX")
        .arg(at)
        .arg(id)
        .ignore()
        .cmd("ZADD")
        .arg(&keys.all)
        .arg("XX")
        .arg(at)
        .arg(id)
        .ignore();
    if publish {
        p.cmd("PUBLISH").arg(&keys.channel).arg(id).ignore();
    }
}

/// A bound as a Lua number: `-1` for "none".
pub(crate) fn limit_arg(n: usize) -> i64 {
    if n >= 1 << 52 {
        -1
    } else {
        i64::try_from(n).unwrap_or(-1)
    }
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis())
        .unwrap_or(u64::MAX)
        .min(MAX_EXPIRE_MS)
}

impl<T> RedisStore<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    async fn call(&self, lua: &Lua, cmd: &redis::Cmd) -> Result<redis::Value, StoreError> {
        eval(&mut self.writes(), lua.source, cmd).await
    }

    /// With [`wait_for_replicas`](super::RedisStoreBuilder::wait_for_replicas): waits until
    /// enough replicas acknowledged every write so far.
    async fn replicated(&self) -> Result<(), StoreError> {
        let Some((wanted, timeout)) = self.shared.replicas else {
            return Ok(());
        };
        let mut cmd = redis::cmd("WAIT");
        cmd.arg(wanted).arg(ms(timeout).max(1));
        let answer = self
            .writes()
            .send_to_slot_primary(self.shared.keys.slot, cmd)
            .await
            .map_err(backend)?;
        let acked = int(&answer).ok_or_else(|| reply("WAIT"))?;
        if acked >= i64::from(wanted) {
            Ok(())
        } else {
            Err(StoreError::Backend(Box::new(
                RedisStoreError::NotReplicated { acked, wanted },
            )))
        }
    }

    pub(super) async fn insert(
        &self,
        record: &Record<T>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> Result<Created<T>, CreateError> {
        let keys = &self.shared.keys;
        let ids = record.id.encode();
        let id_str = ids.as_str();
        let fields = encode_fields(record)?;
        let dk = dedup_key(record);
        let cooldown: i64 = match dedup {
            Dedup::Never => -1,
            // A decline answers only while it is readable: the cooldown ends with its
            // retention window.
            Dedup::Join { decline_cooldown } => {
                i64::try_from(ms(decline_cooldown.min(self.shared.retention))).unwrap_or(i64::MAX)
            }
        };
        let namespace_index = keys.namespace(record.namespace.as_str());
        let mut cmd = evalsha(&CREATE.script, 5);
        cmd.arg(keys.record(id_str))
            .arg(&namespace_index)
            .arg(&keys.all)
            .arg(keys.dedup(&dk))
            .arg(keys.declined(&dk))
            .arg(now.as_millis())
            .arg(limit_arg(limits.per_namespace))
            .arg(limit_arg(limits.total))
            .arg(cooldown)
            .arg(record.expires_at.as_millis())
            .arg(id_str)
            .arg(&keys.record_prefix);
        for (k, v) in &fields {
            cmd.arg(*k).arg(v);
        }
        let v = self.call(&CREATE, &cmd).await?;
        let (tag, rest) = tagged(&v)?;
        match tag {
            b"ok" => {
                self.shared.recent.insert(record.id, namespace_index);
                self.replicated().await?;
                Ok(Created::Inserted)
            }
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
                    .first()
                    .and_then(bytes)
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .and_then(|s| PendingId::from_str(s).ok())
                    .ok_or_else(|| reply("dedup id"))?;
                let rec = rest
                    .get(1)
                    .map(|h| decode_hash::<T>(id, h, now))
                    .transpose()?
                    .flatten()
                    .ok_or_else(|| reply("dedup record"))?;
                Ok(if tag == b"join" {
                    Created::Joined(rec)
                } else {
                    Created::Declined(rec)
                })
            }
            _ => Err(reply("create tag").into()),
        }
    }

    pub(super) async fn read(
        &self,
        id: PendingId,
        now: Timestamp,
    ) -> Result<Option<Record<T>>, StoreError> {
        let ids = id.encode();
        let v: redis::Value = redis::cmd("HGETALL")
            .arg(self.shared.keys.record(ids.as_str()))
            .query_async(&mut self.conn())
            .await
            .map_err(backend)?;
        Ok(decode_hash::<T>(id, &v, now)?
            .filter(|r| lifecycle::visible(r.state, self.shared.retention, now)))
    }

    pub(super) async fn transition(
        &self,
        id: PendingId,
        to: &'static str,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        if expect.is_none() && to != "d" {
            return self.finish(id, to, now, wake).await;
        }
        let ids = id.encode();
        let id_str = ids.as_str();
        let keys = &self.shared.keys;
        let zero = self.shared.retention.is_zero();
        let expect_arg = expect.map_or_else(String::new, |ns| format!("={}", ns.as_str()));
        let publish = if wake == Wake::Now && !zero { "1" } else { "0" };
        let decline_expiry = now
            .saturating_add(self.shared.retention)
            .saturating_add(self.shared.slack)
            .as_millis()
            .min(MAX_EXPIRE_MS);
        let mut cmd = evalsha(&TRANSITION.script, 2);
        cmd.arg(keys.record(id_str))
            .arg(&keys.all)
            .arg(now.as_millis())
            .arg(to)
            .arg(expect_arg)
            .arg(publish)
            .arg(&keys.channel)
            .arg(id_str)
            .arg(&keys.base)
            .arg(decline_expiry);
        let v = self.call(&TRANSITION, &cmd).await?;
        let (tag, rest) = tagged(&v)?;
        match tag {
            b"ok" => {
                let rec = decode_transitioned::<T>(id, rest, new_state(to, now))?;
                self.finished(rec, wake).await
            }
            b"none" => Err(TransitionError::NotFound),
            b"other" => Err(TransitionError::NamespaceMismatch),
            b"done" => {
                let code = rest.first().and_then(bytes).unwrap_or(b"e");
                let at = rest
                    .get(1)
                    .and_then(int)
                    .and_then(|t| u64::try_from(t).ok());
                Err(self.done(id, code, at, now))
            }
            _ => Err(reply("transition tag").into()),
        }
    }

    /// After a transition won: waits for the replicas, wakes the local waiters (and with
    /// zero retention removes the record) unless the caller wakes later.
    async fn finished(&self, rec: Record<T>, wake: Wake) -> Result<Record<T>, TransitionError> {
        self.replicated().await?;
        if wake == Wake::Now {
            self.shared.notifier.notify_with(rec.id, rec.clone());
            if self.shared.retention.is_zero() {
                // Best effort: on failure the record stays finished until a purge.
                let _ = self.forget(&rec).await;
            }
        }
        Ok(rec)
    }

    /// The error of a transition that found the record finished (`code`, at `at`) or past
    /// its deadline (`e`, at the deadline).
    fn done(&self, id: PendingId, code: &[u8], at: Option<u64>, now: Timestamp) -> TransitionError {
        // Past its retention window a record is gone for transitions too, purged or not.
        let ended = at.map(Timestamp::from_millis).is_some_and(|at| {
            at.saturating_add(self.shared.retention) <= now
                && (code == b"e" || !self.shared.retention.is_zero())
        });
        if code == b"e" {
            self.shared.notifier.notify(id);
        }
        if ended {
            return TransitionError::NotFound;
        }
        TransitionError::Finished(finished_of(code))
    }

    /// A transition without Lua (no namespace to check, not a decline). `HSETNX` of the
    /// finish marker decides the single winner, in a `MULTI` with the read of the record's
    /// fields; the marker alone makes the record finished for every reader (see
    /// `codec.rs`). The winner then moves the record in its indexes (`ZADD XX`, so an entry
    /// a concurrent clear or purge removed is not put back) and publishes the event. Should
    /// those follow-up writes fail, the record still reads finished: a dedup lookup skips
    /// it and drops its stale entry, the namespace's open count includes it until its
    /// deadline, and purge goes by the marker.
    ///
    /// When this store created the record lately it knows the index keys already
    /// ([`Recent`](super::recent::Recent)), and the index moves and the event join the
    /// `MULTI`: one round trip. They then run whether or not this call wins, which is
    /// harmless: a loser re-scores the entries of a record that is finished anyway (to its
    /// own time, not after its `now`; purge goes by the marker), takes out a dedup entry
    /// that is leaving anyway, and publishes an extra event (waiters re-read).
    async fn finish(
        &self,
        id: PendingId,
        to: &'static str,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        let ids = id.encode();
        let id_str = ids.as_str();
        let keys = &self.shared.keys;
        let key = keys.record(id_str);
        let at = now.as_millis();
        let publish = wake == Wake::Now && !self.shared.retention.is_zero();
        let known = self.shared.recent.take(id);
        let mut p = redis::pipe();
        p.atomic()
            .cmd("HSETNX")
            .arg(&key)
            .arg("f")
            .arg(format!("{to}{at}"))
            .cmd("HMGET")
            .arg(&key)
            .arg(&["f", "n", "c", "e", "a", "r", "i", "d"]);
        if let Some(known) = &known {
            moves(&mut p, keys, known, id_str, at, publish);
        }
        let (won, f): (i64, Vec<redis::Value>) =
            p.query_async(&mut self.writes()).await.map_err(backend)?;
        if f.len() != 8 {
            return Err(reply("HMGET").into());
        }
        let field = |i: usize| f.get(i).and_then(bytes);
        let Some(ns) = field(1) else {
            if won == 1 {
                // The record was cleared or purged just before: take the marker back. (Should
                // this fail too, a key holding only the marker stays; no read takes it for a
                // record.)
                let _ = redis::cmd("DEL")
                    .arg(&key)
                    .exec_async(&mut self.writes())
                    .await;
            }
            return Err(TransitionError::NotFound);
        };
        let deadline = field(3)
            .and_then(|e| std::str::from_utf8(e).ok())
            .and_then(|e| e.parse::<u64>().ok())
            .ok_or_else(|| reply("deadline"))?;
        if won != 1 {
            let marker = field(0).ok_or_else(|| reply("finish marker"))?;
            let (code, t) = marker.split_first().ok_or_else(|| reply("finish marker"))?;
            let t = std::str::from_utf8(t)
                .ok()
                .and_then(|t| t.parse::<u64>().ok());
            if t.is_some_and(|t| t >= deadline) {
                return Err(self.done(id, b"e", Some(deadline), now));
            }
            return Err(self.done(id, std::slice::from_ref(code), t, now));
        }
        if deadline <= at {
            // Expired: the marker this call wrote came too late and reads so.
            return Err(self.done(id, b"e", Some(deadline), now));
        }
        // `n c e a r i d`, as a transition script returns them.
        let rec = decode_transitioned::<T>(id, &f[1..], new_state(to, now))?;
        if known.is_none() {
            let ns = std::str::from_utf8(ns).map_err(|_| reply("namespace"))?;
            let mut p = redis::pipe();
            moves(&mut p, keys, &keys.namespace(ns), id_str, at, publish);
            p.exec_async(&mut self.writes()).await.map_err(backend)?;
        }
        self.finished(rec, wake).await
    }

    /// Wakes the waiters of a record completed with [`Wake::Later`]: here, then on the other
    /// replicas (with zero retention, with the record, which is removed at the same time).
    pub(super) async fn wake_later(&self, record: &Record<T>) -> Result<(), StoreError> {
        self.shared.notifier.notify_with(record.id, record.clone());
        if self.shared.retention.is_zero() {
            return self.forget(record).await;
        }
        redis::cmd("PUBLISH")
            .arg(&self.shared.keys.channel)
            .arg(record.id.encode().as_str())
            .exec_async(&mut self.conn())
            .await
            .map_err(backend)
    }

    /// Publishes a finished record to the other replicas' waiters and removes it (zero
    /// retention), in one script.
    async fn forget(&self, record: &Record<T>) -> Result<(), StoreError> {
        let keys = &self.shared.keys;
        let ids = record.id.encode();
        let mut cmd = evalsha(&FORGET.script, 2);
        cmd.arg(keys.record(ids.as_str()))
            .arg(&keys.all)
            .arg(&keys.base)
            .arg(ids.as_str())
            .arg(&keys.channel)
            .arg(record_message(record)?);
        let v = self.call(&FORGET, &cmd).await?;
        int(&v).map(|_| ()).ok_or_else(|| reply("forget"))
    }
}
