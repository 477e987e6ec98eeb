//! [`DueQueue`]: a namespace's open records by deadline, so a create at the namespace bound
//! closes the expired ones without reading the others.
//!
//! A namespace gets its queue the first time a create finds it at its bound with `earliest`
//! (a lower bound on its open records' deadlines) past: built then from its open records.
//! Namespaces that never reach their bound pay nothing. While the namespace has its queue,
//! every open record inserted there is pushed. A record that finishes some other way stays
//! in the queue until its deadline comes up (taking it out would mean finding it). So that
//! these cannot pile up, an insert that finds the queue holding more than twice the open
//! records plus 64 drops it instead of pushing, and so does the purge's `shrink`; the next
//! sweep that needs it builds it again from the open records, a cost the inserts since the
//! last build (or, after `clear_namespace`, those that filled the namespace again) paid for.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::table::Entry;
use crate::id::PendingId;
use crate::time::Timestamp;

/// Open records of one namespace, earliest deadline first (see the module docs).
#[derive(Debug, Default)]
pub(super) struct DueQueue {
    heap: BinaryHeap<Reverse<(Timestamp, PendingId)>>,
}

impl DueQueue {
    /// The queue of these open records.
    pub(super) fn build<T>(open: &[Entry<T>]) -> Self {
        Self {
            heap: open.iter().map(|e| Reverse((e.expires_at, e.id))).collect(),
        }
    }

    /// Whether the queue holds so many entries besides the `open` records that it should be
    /// built again.
    pub(super) fn bloated(&self, open: usize) -> bool {
        self.heap.len() > 2 * open + 64
    }

    /// Adds an open record.
    pub(super) fn push(&mut self, expires_at: Timestamp, id: PendingId) {
        self.heap.push(Reverse((expires_at, id)));
    }

    /// Takes out the entry with the earliest deadline if that deadline is at or before
    /// `now` (its record may have finished meanwhile: the caller looks).
    pub(super) fn pop_due(&mut self, now: Timestamp) -> Option<(Timestamp, PendingId)> {
        let Reverse(top) = *self.heap.peek()?;
        (top.0 <= now).then(|| {
            self.heap.pop();
            top
        })
    }

    /// The earliest deadline of an entry (a lower bound on the open records' deadlines).
    pub(super) fn earliest(&self) -> Option<Timestamp> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }
}

#[cfg(test)]
impl DueQueue {
    /// How many entries the queue holds.
    pub(super) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether the queue holds the record `id` with deadline `expires_at`.
    pub(super) fn holds(&self, expires_at: Timestamp, id: PendingId) -> bool {
        self.heap.iter().any(|Reverse(e)| *e == (expires_at, id))
    }
}
