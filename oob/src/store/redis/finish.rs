//! The complete or cancel of a record this store created lately: a short script that reads
//! nothing of the record back (see [`RedisStore::finish`]).

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::RedisStore;
use super::codec::{bytes, finish_marker, state_fields};
use super::conn::{eval, evalsha};
use super::error::reply;
use super::recent::Entry;
use super::scripts::FINISH;
use super::transitions::{call_token, new_state};
use crate::store::{Record, RecordState, TransitionError, Wake};
use crate::time::Timestamp;

impl<T> RedisStore<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// A complete or cancel (no namespace to check, not a decline) of a record this store
    /// created lately ([`Recent`](super::recent::Recent), whose entry the caller took out:
    /// the record as created, which nothing but the finish marker changes after). One round
    /// trip, `finish.lua`: an `HMGET` of the finish marker and `s` (which every record has:
    /// whether it still exists), then, only for an open record, the marker, the index moves
    /// and the event. Nothing of the record is read back: the winner answers with the
    /// record it created, in its new state; a loser learns how the record finished from the
    /// marker the script returns. The caller knows the deadline, so a call at or after it
    /// writes nothing (the script only reports what it finds). Nothing follows a win but
    /// [`finished`](Self::finished), so a win always wakes the local waiters. Any other id
    /// takes `transition.lua`: one round trip too.
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
        let deadline = record.expires_at.as_millis();
        let publish = wake == Wake::Now && !self.shared.retention.is_zero();
        // Past the deadline: no marker, the script only reports what it finds.
        let marker = if deadline <= at {
            String::new()
        } else {
            format!("{to}{at}")
        };
        let mut cmd = evalsha(&FINISH.script, 3);
        cmd.arg(&key)
            .arg(&namespace_index)
            .arg(&keys.all)
            .arg(&marker)
            .arg(at)
            .arg(id_str)
            .arg(if publish { keys.channel.as_str() } else { "" })
            .arg(call_token());
        let v = eval(&mut self.writes(), FINISH.source, &cmd).await?;
        let found = match v {
            redis::Value::Int(1) => None,
            redis::Value::Int(0) => return Err(TransitionError::NotFound),
            ref m => Some(bytes(m).ok_or_else(|| reply("finish"))?),
        };
        if let Some(marker) = found {
            // How it finished, read as every read reads the marker (one at or after the
            // deadline came too late: the record expired then).
            let (code, at) = match finish_marker(marker, record.expires_at)? {
                RecordState::Open => ("e", Some(record.expires_at)),
                state => state_fields(state),
            };
            return Err(self.done(id, code.as_bytes(), at.map(Timestamp::as_millis), now));
        }
        if marker.is_empty() {
            // Open, but expired: nothing written.
            return Err(self.done(id, b"e", Some(deadline), now));
        }
        self.finished(record.with_state(new_state(to, now)), wake)
            .await
    }
}
