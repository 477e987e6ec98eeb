//! A transition without Lua: the finish marker decides the winner (see [`RedisStore::finish`]).

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::RedisStore;
use super::codec::bytes;
use super::error::{backend, reply};
use super::keys::Keys;
use super::recent::Entry;
use super::transitions::new_state;
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
    /// store created lately ([`Recent`](super::recent::Recent), whose entry the caller took
    /// out: the record as created, which nothing but the finish marker changes after). One
    /// round trip: a `MULTI` of `HMGET` of the finish marker and `s` (which every record
    /// has: whether it still exists), `HSETNX` of the finish marker, which decides the
    /// single winner, the index moves (`ZADD XX`, so an entry a concurrent clear or purge
    /// removed is not put back) and the event. Nothing of the record is read back: the
    /// winner answers with the record it created, in its new state. The marker alone makes
    /// the record finished for every reader (see `codec.rs`).
    ///
    /// The moves and the event run whether or not this call wins, which is harmless: a
    /// loser re-scores the entries of a record that is finished anyway (to its own time,
    /// not after its `now`; purge goes by the marker), and publishes an extra event
    /// (waiters re-read). A loser learns how the record finished from the marker the
    /// `HMGET` read. Nothing follows a win but [`finished`](Self::finished), so a win
    /// always wakes the local waiters. Any other id takes the script (`transition.lua`):
    /// one round trip too, and no write for an id that names no record.
    pub(super) async fn finish(
        &self,
        entry: Entry<T>,
        to: &'static str,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        let Entry {
            namespace_index,
            record,
        } = entry;
        let id = record.id;
        let ids = id.encode();
        let id_str = ids.as_str();
        let keys = &self.shared.keys;
        let key = keys.record(id_str);
        let at = now.as_millis();
        let publish = wake == Wake::Now && !self.shared.retention.is_zero();
        let mut p = redis::pipe();
        p.atomic()
            .cmd("HMGET")
            .arg(&key)
            .arg("f")
            .arg("s")
            .cmd("HSETNX")
            .arg(&key)
            .arg("f")
            .arg(format!("{to}{at}"));
        moves(&mut p, keys, &namespace_index, id_str, at, publish);
        let (f, won): (Vec<redis::Value>, i64) =
            p.query_async(&mut self.writes()).await.map_err(backend)?;
        let [marker, state] = f.as_slice() else {
            return Err(reply("HMGET").into());
        };
        if bytes(state).is_none() {
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
        let deadline = record.expires_at.as_millis();
        if won != 1 {
            let marker = bytes(marker).ok_or_else(|| reply("finish marker"))?;
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
        self.finished(record.with_state(new_state(to, now)), wake)
            .await
    }
}
