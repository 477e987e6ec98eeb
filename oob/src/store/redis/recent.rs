//! [`Recent`]: the records this store created lately, as it wrote them, so that completing
//! one of them is a single round trip that reads nothing back (see `finish.rs`).
//!
//! Nothing of a record but its finish marker changes after create (its namespace, times,
//! labels and payload are written once, by `create.lua`; transitions write only `f`), so
//! an entry stays right for as long as the id exists. Every transition through this store
//! takes its entry out, and so does a clear or purge through it; a record completed,
//! cleared or purged through another replica leaves its entry here until it is pushed out
//! or its deadline passes (the script then finds it finished or gone, and answers so).
//! An id is stored once while its record exists (`DuplicateId` otherwise); the manager
//! draws ids at random, so an id re-created after a clear or purge (which would make an
//! entry name the old record) is left to chance at 2^-122.
//!
//! The winner of such a complete answers with the payload as created (the value the
//! caller's pending holds), not one decoded again from Redis; as on every durable store,
//! a payload type must come back from its serde form unchanged to read the same on every
//! replica.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::id::PendingId;
use crate::namespace::PrehashedBuild;
use crate::store::Record;
use crate::time::Timestamp;

/// How many records are kept. An entry is the record's namespace index key (about 40 bytes
/// plus the namespace) and the record as created, whose payload and labels it shares with
/// the pending the caller holds, so it keeps that payload alive while it is here (also
/// after the caller dropped the pending). Entries leave oldest first: an entry whose
/// deadline passed is dropped when an insert meets it first in line, and any entry once
/// this many are kept (so a long-lived pending first in line holds the younger expired ones
/// until they are pushed out: this bound, not the deadlines, is the limit).
const CAPACITY: usize = 65_536;

/// A record this store created lately: its namespace index key and the record, open.
pub(crate) struct Entry<T> {
    pub(crate) namespace_index: String,
    pub(crate) record: Record<T>,
}

struct Inner<T> {
    /// Ids are random (the manager draws them): their own bits are the hash, as in the
    /// memory store's id index.
    entries: HashMap<PendingId, Entry<T>, PrehashedBuild>,
    order: VecDeque<PendingId>,
}

/// The records this store created lately, by id, at most [`CAPACITY`] of them.
pub(crate) struct Recent<T> {
    inner: Mutex<Inner<T>>,
}

impl<T> Default for Recent<T> {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                entries: HashMap::default(),
                order: VecDeque::new(),
            }),
        }
    }
}

impl<T> Recent<T> {
    /// Remembers a record this store just created (at `now`).
    pub(crate) fn insert(&self, entry: Entry<T>, now: Timestamp) {
        let id = entry.record.id;
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if inner.entries.insert(id, entry).is_none() {
            inner.order.push_back(id);
        }
        // Ids already taken out stay in `order` until they come up here.
        while let Some(old) = inner.order.front().copied() {
            let expired = inner
                .entries
                .get(&old)
                .is_none_or(|e| e.record.expires_at <= now);
            if !expired && inner.order.len() <= CAPACITY {
                break;
            }
            inner.order.pop_front();
            inner.entries.remove(&old);
        }
    }

    /// Takes the entry of `id` out, if this store created it lately.
    pub(crate) fn take(&self, id: PendingId) -> Option<Entry<T>> {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = inner.entries.remove(&id);
        if inner.entries.is_empty() {
            inner.order.clear();
        }
        entry
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::namespace::Namespace;
    use crate::store::{Body, RecordState};

    fn entry(ns: &str, expires: u64) -> Entry<()> {
        Entry {
            namespace_index: ns.to_owned(),
            record: Record::new(
                PendingId::random(),
                Namespace::new(ns).expect("namespace"),
                Timestamp::from_millis(0),
                Timestamp::from_millis(expires),
                RecordState::Open,
                Arc::new(Body::new((), None, None, None)),
            ),
        }
    }

    #[test]
    fn taken_once_and_the_oldest_pushed_out() {
        let r = Recent::default();
        let now = Timestamp::from_millis(1);
        let first = entry("a", 10);
        let id = first.record.id;
        r.insert(first, now);
        assert_eq!(r.take(id).map(|e| e.namespace_index).as_deref(), Some("a"));
        assert!(r.take(id).is_none());
        let ids: Vec<PendingId> = (0..=CAPACITY)
            .map(|_| {
                let e = entry("b", 10);
                let id = e.record.id;
                r.insert(e, now);
                id
            })
            .collect();
        assert!(r.take(ids[0]).is_none(), "the oldest is pushed out");
        assert!(r.take(ids[CAPACITY]).is_some());
    }

    #[test]
    fn entries_past_their_deadline_are_dropped_first_in_line() {
        let r = Recent::default();
        let old = entry("a", 10);
        let old_id = old.record.id;
        r.insert(old, Timestamp::from_millis(1));
        let young = entry("a", 100);
        let young_id = young.record.id;
        r.insert(young, Timestamp::from_millis(10));
        assert!(r.take(old_id).is_none(), "expired at the second insert");
        assert!(r.take(young_id).is_some());
    }
}
