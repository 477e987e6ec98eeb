//! A record as hash fields and back, and the shapes of script replies.
//!
//! Fields: namespace `n`, created `c`, deadline `e`, state `s` (`o` open, `c` completed,
//! `x` cancelled, `d` declined), finished `t`, labels `a` `r` `i` (absent when `None`),
//! JSON payload `d`, dedup key `k`.
//!
//! A stored hash keeps `s` = `o`: a transition writes the *finish marker* `f` instead, the
//! new state's code followed by when it finished (ms), e.g. `c1700000000000`, only where
//! none is (so only the first finisher writes it). The marker decides the state: the state
//! it names when it finished before the deadline, and open (so expired at the deadline)
//! when it came at or after it. Event messages carry `s` and `t`.

use std::sync::Arc;

use redis::Value;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::{malformed, reply};
use super::keys::dedup_key;
use crate::CodecError;
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::state::CancelReason;
use crate::store::{Body, Finished, Record, RecordState, StoreError};
use crate::time::Timestamp;

/// The state code and finish time of a state.
pub(crate) fn state_fields(state: RecordState) -> (&'static str, Option<Timestamp>) {
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
        RecordState::Expired { at } => ("o", Some(at)),
    }
}

/// The hash fields of a record, as name/value pairs.
pub(crate) fn encode_fields<T: Serialize>(
    r: &Record<T>,
) -> Result<Vec<(&'static str, String)>, StoreError> {
    let data = serde_json::to_string(r.body.data())
        .map_err(|e| StoreError::Encode(Box::new(CodecError::encoding(&e))))?;
    let (s, t) = state_fields(r.state);
    let mut f = Vec::with_capacity(10);
    f.push(("n", r.namespace.as_str().to_owned()));
    f.push(("c", r.created_at.as_millis().to_string()));
    f.push(("e", r.expires_at.as_millis().to_string()));
    f.push(("s", s.to_owned()));
    if let (Some(t), false) = (t, s == "o") {
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
    f.push(("k", dedup_key(r)));
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

/// A record from its hash fields (state as stored: open past its deadline stays open).
pub(crate) fn decode<'a, T: DeserializeOwned>(
    id: PendingId,
    fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<Record<T>, StoreError> {
    decode_if(id, fields, |_, _| true)?.ok_or_else(|| malformed("record"))
}

/// Like [`decode`], but `None` when `keep`, asked with the stored state and the deadline
/// before the payload is decoded, says no (so a record no read sees is not decoded: its
/// payload may be one this version of `T` cannot read).
pub(crate) fn decode_if<'a, T: DeserializeOwned>(
    id: PendingId,
    fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    keep: impl FnOnce(RecordState, Timestamp) -> bool,
) -> Result<Option<Record<T>>, StoreError> {
    let (mut n, mut c, mut e, mut s, mut t, mut d) = (None, None, None, None, None, None);
    let (mut a, mut r, mut i, mut f) = (None, None, None, None);
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
            b"f" => f = Some(v),
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
    let s = s.ok_or_else(|| malformed("state"))?;
    let state = match f {
        Some(f) => finish_marker(f, expires)?,
        None => stored_state(s, at)?,
    };
    if !keep(state, expires) {
        return Ok(None);
    }
    let data: T = serde_json::from_slice(d.ok_or_else(|| malformed("payload"))?)
        .map_err(|e| StoreError::Decode(Box::new(CodecError::decoding(&e))))?;
    Ok(Some(Record::new(
        id,
        namespace,
        created,
        expires,
        state,
        Arc::new(Body::new(data, a, r, i)),
    )))
}

/// The state a finish marker (`f`) decides, for a record with deadline `expires`.
pub(crate) fn finish_marker(f: &[u8], expires: Timestamp) -> Result<RecordState, StoreError> {
    let (code, at) = f.split_first().ok_or_else(|| malformed("finish marker"))?;
    let at = Timestamp::from_millis(parse_ms(at, "finish marker")?);
    if at >= expires {
        // Too late: the record expired at its deadline.
        return Ok(RecordState::Open);
    }
    match code {
        b'o' => Err(malformed("finish marker")),
        code => stored_state(std::slice::from_ref(code), || Ok(at)),
    }
}

/// The state of an `s` code, finished at `at()`.
fn stored_state(
    s: &[u8],
    at: impl Fn() -> Result<Timestamp, StoreError>,
) -> Result<RecordState, StoreError> {
    Ok(match s {
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
        _ => return Err(malformed("state")),
    })
}

pub(crate) fn bytes(v: &Value) -> Option<&[u8]> {
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

/// The record of an `HGETALL` reply, in its state as of `now`; `None` when absent.
pub(crate) fn decode_hash<T: DeserializeOwned>(
    id: PendingId,
    v: &Value,
    now: Timestamp,
) -> Result<Option<Record<T>>, StoreError> {
    decode_hash_if(id, v, now, |_| true)
}

/// Like [`decode_hash`], but `None` when `keep`, asked with the state as of `now` before
/// the payload is decoded, says no.
pub(crate) fn decode_hash_if<T: DeserializeOwned>(
    id: PendingId,
    v: &Value,
    now: Timestamp,
    keep: impl FnOnce(RecordState) -> bool,
) -> Result<Option<Record<T>>, StoreError> {
    match hash_pairs(v)? {
        None => Ok(None),
        // Only a finish marker: left by an earlier version's complete that raced a clear or
        // purge of the record (today's scripts write none where no record is); not a record.
        Some(pairs) if pairs.iter().all(|(k, _)| *k == b"f") => Ok(None),
        Some(pairs) => {
            let r = decode_if::<T>(id, pairs, |state, expires| keep(state.as_of(expires, now)))?;
            Ok(r.map(|r| {
                let state = r.state_at(now);
                r.with_state(state)
            }))
        }
    }
}

/// The record a transition script returns: `n c e a r i d` (labels may be nil), in the
/// new state.
pub(crate) fn decode_transitioned<T: DeserializeOwned>(
    id: PendingId,
    fields: &[Value],
    state: RecordState,
) -> Result<Record<T>, StoreError> {
    let [n, c, e, a, r, i, d] = fields else {
        return Err(reply("transition record"));
    };
    let pairs = [
        (&b"n"[..], n),
        (b"c", c),
        (b"e", e),
        (b"a", a),
        (b"r", r),
        (b"i", i),
        (b"d", d),
    ]
    .into_iter()
    .filter_map(|(k, v)| bytes(v).map(|v| (k, v)))
    .chain([(&b"s"[..], &b"o"[..])]);
    decode::<T>(id, pairs).map(|rec| rec.with_state(state))
}

/// The tag and the rest of a script's array reply.
pub(crate) fn tagged(v: &Value) -> Result<(&[u8], &[Value]), StoreError> {
    match v {
        Value::Array(items) => match items.split_first() {
            Some((tag, rest)) => Ok((bytes(tag).ok_or_else(|| reply("tag"))?, rest)),
            None => Err(reply("empty script reply")),
        },
        _ => Err(reply("script reply")),
    }
}

pub(crate) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        other => bytes(other)
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|s| s.parse().ok()),
    }
}

pub(crate) fn finished_of(code: &[u8]) -> Finished {
    match code {
        b"c" => Finished::Completed,
        b"x" => Finished::Cancelled,
        b"d" => Finished::Declined,
        _ => Finished::Expired,
    }
}

/// The event message of a changed record: its id, a space, and its fields as a JSON array.
pub(crate) fn record_message<T: Serialize>(r: &Record<T>) -> Result<String, StoreError> {
    let fields = encode_fields(r)?;
    let flat: Vec<&str> = fields.iter().flat_map(|(k, v)| [*k, v.as_str()]).collect();
    let json = serde_json::to_string(&flat)
        .map_err(|e| StoreError::Encode(Box::new(CodecError::encoding(&e))))?;
    Ok(format!("{} {json}", r.id.encode().as_str()))
}

/// The record of an event message, if it carries one.
pub(crate) fn message_record<T: DeserializeOwned>(id: PendingId, json: &[u8]) -> Option<Record<T>> {
    let flat: Vec<String> = serde_json::from_slice(json).ok()?;
    let pairs = flat
        .chunks(2)
        .filter_map(|kv| match kv {
            [k, v] => Some((k.as_bytes(), v.as_bytes())),
            _ => None,
        })
        .collect::<Vec<_>>();
    decode::<T>(id, pairs).ok()
}
