//! The atomic operations on one record: create, get, the scripted transitions (decline,
//! complete or cancel with a namespace to check or of a record this store did not create
//! lately), and what follows every transition.

use std::str::FromStr;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::RedisStore;
use super::codec::{
    bytes, decode_hash, decode_hash_if, decode_transitioned, encode_fields, finished_of, int,
    record_message, tagged,
};
use super::conn::{eval, evalsha};
use super::error::{RedisStoreError, backend, malformed, reply};
use super::keys::dedup_key;
use super::recent::Entry;
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

/// A call's own token, written with what it changes (a create's `q`, a transition's `w`
/// beside the finish marker): the cluster client sends a script again when a connection
/// drops before its reply (it retries to ride out a failover), and the resent call tells
/// its own first run's insert or win (its token) from another call's. 64 random bits, as
/// hex.
pub(super) fn call_token() -> String {
    format!("{:016x}", uuid::Uuid::new_v4().as_u64_pair().0)
}

/// The state a transition to `to` (`c`, `x` or `d`) at `now` leaves.
pub(super) fn new_state(to: &str, now: Timestamp) -> RecordState {
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

/// A bound as a Lua number: `-1` for "none".
pub(crate) fn limit_arg(n: usize) -> i64 {
    if n >= 1 << 52 {
        -1
    } else {
        i64::try_from(n).unwrap_or(-1)
    }
}

/// How a record ended, as `transition.lua` answers it after its tag (`done` or `other`):
/// the state code, and its time; `None` for a record that did not end.
fn ended(rest: &[redis::Value]) -> Option<(&[u8], Option<u64>)> {
    let code = rest.first().and_then(bytes)?;
    let at = rest
        .get(1)
        .and_then(int)
        .and_then(|t| u64::try_from(t).ok());
    Some((code, at))
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
        cmd.arg(wanted).arg(super::conn::wait_timeout_ms(timeout));
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
            .arg(&keys.record_prefix)
            .arg(&keys.base)
            // This call's token first (see `create.lua`: a resent create finds its own).
            .arg("q")
            .arg(call_token());
        for (k, v) in &fields {
            cmd.arg(*k).arg(v);
        }
        let v = self.call(&CREATE, &cmd).await?;
        let (tag, rest) = tagged(&v)?;
        match tag {
            b"ok" => {
                let entry = Entry {
                    namespace_index,
                    record: record.clone(),
                };
                self.shared.recent.insert(entry, now);
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
        // Whether a read still sees it is decided before its payload is decoded: a record
        // past its window is gone, also to a version of `T` that cannot read its payload.
        let retention = self.shared.retention;
        decode_hash_if::<T>(id, &v, now, |state| {
            lifecycle::visible(state, retention, now)
        })
    }

    /// A transition, in a task of its own (see `store/detached.rs`): a caller that goes
    /// away after its script was sent does not take the local wake-up (with zero retention
    /// the only one, the scripts then publish nothing) and the forgetting with it.
    pub(super) async fn transition(
        &self,
        id: PendingId,
        to: &'static str,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        let this = self.clone();
        let expect = expect.cloned();
        crate::store::detached::transition(self.clone(), id, now, wake, async move {
            this.transition_here(id, to, expect.as_ref(), now, wake)
                .await
        })
        .await
    }

    async fn transition_here(
        &self,
        id: PendingId,
        to: &'static str,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        // Taken out whichever path runs: after a transition the entry is of no more use.
        let cached = self.shared.recent.take(id);
        if expect.is_none()
            && to != "d"
            && let Some(entry) = cached
        {
            return self.finish(entry, to, now, wake).await;
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
            .arg(decline_expiry)
            .arg(call_token());
        let v = self.call(&TRANSITION, &cmd).await?;
        let (tag, rest) = tagged(&v)?;
        match tag {
            b"ok" => {
                let rec = decode_transitioned::<T>(id, rest, new_state(to, now))?;
                self.finished(rec, wake).await
            }
            b"none" => Err(TransitionError::NotFound),
            b"other" => {
                // Another namespace's record: a mismatch whatever its state, unless it is
                // past its retention window (gone for every read).
                let gone = ended(rest).is_some_and(|(code, at)| self.gone(code, at, now));
                Err(if gone {
                    TransitionError::NotFound
                } else {
                    TransitionError::NamespaceMismatch
                })
            }
            b"malformed" => Err(malformed("deadline or finish marker").into()),
            b"done" => {
                let (code, at) = ended(rest).unwrap_or((b"e", None));
                Err(self.done(id, code, at, now))
            }
            _ => Err(reply("transition tag").into()),
        }
    }

    /// After a transition won: waits for the replicas, wakes the local waiters (and with
    /// zero retention removes the record) unless the caller wakes later.
    pub(super) async fn finished(
        &self,
        rec: Record<T>,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        // The waiters first: the transition is applied whatever `WAIT` answers (a lagging
        // replica fails the call with `NotReplicated`, it does not undo the write).
        if wake == Wake::Now {
            self.shared.notifier.notify_with(rec.id, rec.clone());
            if self.shared.retention.is_zero() {
                // Best effort: on failure the record stays finished until a purge.
                let _ = self.forget(&rec).await;
            }
        }
        self.replicated().await?;
        Ok(rec)
    }

    /// The error of a transition that found the record finished (`code`, at `at`) or past
    /// its deadline (`e`, at the deadline).
    pub(super) fn done(
        &self,
        id: PendingId,
        code: &[u8],
        at: Option<u64>,
        now: Timestamp,
    ) -> TransitionError {
        if code == b"e" {
            self.shared.notifier.notify(id);
        }
        if self.gone(code, at, now) {
            return TransitionError::NotFound;
        }
        TransitionError::Finished(finished_of(code))
    }

    /// Whether a record that ended (`code`, at `at`) is past its retention window at `now`
    /// (`lifecycle::visible`): gone for transitions too, purged or not.
    fn gone(&self, code: &[u8], at: Option<u64>, now: Timestamp) -> bool {
        at.map(Timestamp::from_millis).is_some_and(|at| {
            // Visibility tells only expired from finished apart.
            let state = if code == b"e" {
                RecordState::Expired { at }
            } else {
                RecordState::Completed { at }
            };
            !lifecycle::visible(state, self.shared.retention, now)
        })
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

impl<T> crate::store::detached::Rewake<T> for RedisStore<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn reread(
        &self,
        id: PendingId,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<Record<T>>, StoreError>> + Send {
        self.read(id, now)
    }

    fn rewake(&self, record: &Record<T>) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.wake_later(record)
    }
}
