//! A transition without Lua: the finish marker decides the winner (see [`RedisStore::finish`]).

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::RedisStore;
use super::codec::{bytes, decode_transitioned};
use super::error::{backend, reply};
use super::keys::Keys;
use super::transitions::new_state;
use crate::id::PendingId;
use crate::store::{Record, TransitionError, Wake};
use crate::time::Timestamp;

/// Adds to `p` what follows a transition's win (see [`RedisStore::finish`]): the record
/// re-scored by its finish time in its namespace index and the store index (`XX`: an
/// entry a clear or purge removed is not put back), and the event. Its dedup index entry
/// stays: a dedup lookup drops the finished ids it meets, purge the rest.
fn moves(
    p: &mut redis::Pipeline,
    keys: &Keys,
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

impl<T> RedisStore<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// A transition without Lua (no namespace to check, not a decline) of a record this
    /// store created lately, so whose namespace index key it knows
    /// ([`Recent`](super::recent::Recent), taken out by the caller). One round trip: a
    /// `MULTI` of `HSETNX` of the finish marker, which decides the single winner, the read
    /// of the record's fields, the index moves (`ZADD XX`, so an entry a concurrent clear
    /// or purge removed is not put back) and the event. The marker alone makes the record
    /// finished for every reader (see `codec.rs`).
    ///
    /// The moves and the event run whether or not this call wins, which is harmless: a
    /// loser re-scores the entries of a record that is finished anyway (to its own time,
    /// not after its `now`; purge goes by the marker), and publishes an extra event
    /// (waiters re-read). Nothing follows a win but [`finished`](Self::finished), so a win
    /// always wakes the local waiters. Any other id takes the script (`transition.lua`):
    /// one round trip too, and no write for an id that names no record.
    pub(super) async fn finish(
        &self,
        id: PendingId,
        namespace_index: &str,
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
        let mut p = redis::pipe();
        p.atomic()
            .cmd("HSETNX")
            .arg(&key)
            .arg("f")
            .arg(format!("{to}{at}"))
            .cmd("HMGET")
            .arg(&key)
            .arg(&["f", "n", "c", "e", "a", "r", "i", "d"]);
        moves(&mut p, keys, namespace_index, id_str, at, publish);
        let (won, f): (i64, Vec<redis::Value>) =
            p.query_async(&mut self.writes()).await.map_err(backend)?;
        if f.len() != 8 {
            return Err(reply("HMGET").into());
        }
        let field = |i: usize| f.get(i).and_then(bytes);
        if field(1).is_none() {
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
        }
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
        self.finished(rec, wake).await
    }
}
