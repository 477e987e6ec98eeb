//! [`Table`]: the memory store's records and indexes, on standard collections.
//!
//! Records live once, in a slab (`Vec<Option<Entry>>` with a free list) addressed by a `u32`
//! slot; a `HashMap` maps ids to slots and each namespace keeps the list of its slots, so no
//! payload is copied and a namespace index costs 4 bytes per record. (A `HashMap` from id to
//! record would hold the record in its buckets, which it over-allocates up to twice: about
//! 60 bytes more per pending at a million.)

use std::collections::HashMap;
use std::sync::Arc;

use super::super::{Body, Record, RecordState};
use super::count::{Deadlines, OpenCount};
use crate::id::PendingId;
use crate::namespace::{Namespace, PrehashedBuild};
use crate::time::Timestamp;

/// One stored record. The namespace is the index of its [`NsIndex`].
#[derive(Debug)]
pub(super) struct Entry<T> {
    pub(super) id: PendingId,
    pub(super) body: Arc<Body<T>>,
    pub(super) created_at: Timestamp,
    pub(super) expires_at: Timestamp,
    /// As stored: an open record past its deadline is still `Open` here until a sweep or a
    /// transition closes it; readers use [`Record::state_at`]'s rule.
    pub(super) state: RecordState,
    ns: u32,
    /// Where this entry's slot sits in its namespace's `slots`.
    ns_pos: u32,
}

impl<T> Entry<T> {
    /// The state as of `now`.
    pub(super) fn state_at(&self, now: Timestamp) -> RecordState {
        match self.state {
            RecordState::Open if self.expires_at <= now => RecordState::Expired {
                at: self.expires_at,
            },
            s => s,
        }
    }
}

#[derive(Debug)]
struct NsIndex {
    namespace: Namespace,
    slots: Vec<u32>,
    open: OpenCount,
}

/// The records and their indexes. Every method keeps the indexes and counts consistent.
#[derive(Debug)]
pub(super) struct Table<T> {
    slots: Vec<Option<Entry<T>>>,
    free: Vec<u32>,
    by_id: HashMap<PendingId, u32>,
    by_ns: HashMap<Namespace, u32, PrehashedBuild>,
    ns: Vec<Option<NsIndex>>,
    ns_free: Vec<u32>,
    open: Deadlines,
    /// Records stored as open (expired ones not yet closed included).
    stored_open: usize,
}

/// The table holds `u32::MAX` slots or namespaces already.
#[derive(Debug, thiserror::Error)]
#[error("the memory store is full")]
pub struct TableFull;

fn index(i: usize) -> Result<u32, TableFull> {
    u32::try_from(i).map_err(|_| TableFull)
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            by_ns: HashMap::default(),
            ns: Vec::new(),
            ns_free: Vec::new(),
            open: Deadlines::default(),
            stored_open: 0,
        }
    }
}

impl<T> Table<T> {
    /// How many records the table holds.
    pub(super) fn len(&self) -> usize {
        self.by_id.len()
    }

    /// How many records are stored as open (expired ones not yet closed included).
    pub(super) fn open_count(&self) -> usize {
        self.stored_open
    }

    pub(super) fn slot(&self, id: &PendingId) -> Option<u32> {
        self.by_id.get(id).copied()
    }

    pub(super) fn entry(&self, slot: u32) -> &Entry<T> {
        match self.slots.get(slot as usize) {
            Some(Some(e)) => e,
            // The indexes only ever point at occupied slots.
            _ => unreachable!("index points at an empty slot"),
        }
    }

    fn entry_mut(&mut self, slot: u32) -> &mut Entry<T> {
        match self.slots.get_mut(slot as usize) {
            Some(Some(e)) => e,
            _ => unreachable!("index points at an empty slot"),
        }
    }

    fn ns_index(&self, n: u32) -> &NsIndex {
        match self.ns.get(n as usize) {
            Some(Some(i)) => i,
            _ => unreachable!("entry points at an empty namespace slot"),
        }
    }

    fn ns_index_mut(&mut self, n: u32) -> &mut NsIndex {
        match self.ns.get_mut(n as usize) {
            Some(Some(i)) => i,
            _ => unreachable!("entry points at an empty namespace slot"),
        }
    }

    /// The namespace of the record in `slot`.
    pub(super) fn namespace_of(&self, slot: u32) -> &Namespace {
        &self.ns_index(self.entry(slot).ns).namespace
    }

    /// The slots of a namespace's records (none when it has none).
    pub(super) fn namespace_slots(&self, namespace: &Namespace) -> &[u32] {
        self.by_ns
            .get(namespace)
            .map_or(&[], |&n| &self.ns_index(n).slots)
    }

    /// The record in `slot`, in its state as of `now`.
    pub(super) fn record(&self, slot: u32, now: Timestamp) -> Record<T> {
        let e = self.entry(slot);
        Record::new(
            e.id,
            self.ns_index(e.ns).namespace.clone(),
            e.created_at,
            e.expires_at,
            e.state_at(now),
            e.body.clone(),
        )
    }

    /// How many open, unexpired records the namespace holds, exact at least up to `bound`.
    pub(super) fn open_in(&mut self, namespace: &Namespace, now: Timestamp, bound: usize) -> usize {
        let Some(&n) = self.by_ns.get(namespace) else {
            return 0;
        };
        let idx = self.ns_index(n);
        if idx.open.n >= bound && idx.open.earliest <= now {
            let slots = idx.slots.clone();
            self.sweep(&slots, now);
            let earliest = self.earliest_of(&self.ns_index(n).slots);
            self.ns_index_mut(n).open.earliest = earliest;
        }
        self.ns_index(n).open.n
    }

    /// How many open, unexpired records the table holds.
    pub(super) fn open_total(&mut self, now: Timestamp) -> usize {
        if !self.open.enabled {
            self.open.enabled = true;
            let deadlines: Vec<Timestamp> = self
                .slots
                .iter()
                .flatten()
                .filter(|e| e.state.is_open())
                .map(|e| e.expires_at)
                .collect();
            for d in deadlines {
                self.open.add(d);
            }
        }
        self.open.count(now)
    }

    /// The earliest deadline of the open records among `slots`.
    fn earliest_of(&self, slots: &[u32]) -> Timestamp {
        slots
            .iter()
            .map(|&s| self.entry(s))
            .filter(|e| e.state.is_open())
            .map(|e| e.expires_at)
            .min()
            .unwrap_or(OpenCount::NONE.earliest)
    }

    /// Closes the expired open records among `slots` (they stop counting).
    fn sweep(&mut self, slots: &[u32], now: Timestamp) {
        for &s in slots {
            let e = self.entry(s);
            if e.state.is_open() && e.expires_at <= now {
                let at = e.expires_at;
                self.close(s, RecordState::Expired { at });
            }
        }
    }

    /// Inserts a new open record.
    pub(super) fn insert(&mut self, record: &Record<T>) -> Result<(), TableFull> {
        let n = self.namespace_for(&record.namespace)?;
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                let s = index(self.slots.len())?;
                self.slots.push(None);
                s
            }
        };
        let idx = self.ns_index_mut(n);
        let ns_pos = index(idx.slots.len())?;
        idx.slots.push(slot);
        if record.state.is_open() {
            idx.open.add(record.expires_at);
            self.open.add(record.expires_at);
            self.stored_open += 1;
        }
        self.slots[slot as usize] = Some(Entry {
            id: record.id,
            body: record.body.clone(),
            created_at: record.created_at,
            expires_at: record.expires_at,
            state: record.state,
            ns: n,
            ns_pos,
        });
        self.by_id.insert(record.id, slot);
        Ok(())
    }

    fn namespace_for(&mut self, namespace: &Namespace) -> Result<u32, TableFull> {
        if let Some(&n) = self.by_ns.get(namespace) {
            return Ok(n);
        }
        let idx = NsIndex {
            namespace: namespace.clone(),
            slots: Vec::new(),
            open: OpenCount::NONE,
        };
        let n = match self.ns_free.pop() {
            Some(n) => {
                self.ns[n as usize] = Some(idx);
                n
            }
            None => {
                let n = index(self.ns.len())?;
                self.ns.push(Some(idx));
                n
            }
        };
        self.by_ns.insert(namespace.clone(), n);
        Ok(n)
    }

    /// Moves an open record to a finished state (the counts follow).
    pub(super) fn close(&mut self, slot: u32, to: RecordState) {
        let e = self.entry_mut(slot);
        debug_assert!(e.state.is_open() && !to.is_open());
        e.state = to;
        let (n, expires_at) = (e.ns, e.expires_at);
        self.ns_index_mut(n).open.n -= 1;
        self.open.remove(expires_at);
        self.stored_open -= 1;
    }

    /// Removes a record from every index; returns it as a record in its state as of `now`.
    pub(super) fn remove(&mut self, slot: u32, now: Timestamp) -> Record<T> {
        let Some(entry) = self.slots.get_mut(slot as usize).and_then(Option::take) else {
            unreachable!("removing an empty slot");
        };
        self.by_id.remove(&entry.id);
        self.free.push(slot);
        let was_open = entry.state.is_open();
        if was_open {
            self.open.remove(entry.expires_at);
            self.stored_open -= 1;
        }
        let idx = self.ns_index_mut(entry.ns);
        if was_open {
            idx.open.n -= 1;
        }
        idx.slots.swap_remove(entry.ns_pos as usize);
        let moved = idx.slots.get(entry.ns_pos as usize).copied();
        // An emptied namespace keeps its index until the next purge: a namespace whose
        // pendings come and go is not re-hashed and re-allocated every time.
        let namespace = idx.namespace.clone();
        if let Some(m) = moved {
            self.entry_mut(m).ns_pos = entry.ns_pos;
        }
        let state = entry.state_at(now);
        Record::new(
            entry.id,
            namespace,
            entry.created_at,
            entry.expires_at,
            state,
            entry.body,
        )
    }

    /// The slots in `range` that hold a record.
    pub(super) fn occupied(&self, range: std::ops::Range<usize>) -> Vec<u32> {
        let end = range.end.min(self.slots.len());
        (range.start.min(end)..end)
            .filter(|&i| self.slots[i].is_some())
            .filter_map(|i| u32::try_from(i).ok())
            .collect()
    }

    /// The number of slots (occupied or free).
    pub(super) fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Forgets emptied namespace indexes and gives back the free tails of the slabs (e.g.
    /// after a burst was purged).
    pub(super) fn shrink(&mut self) {
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
        let len = self.slots.len();
        self.free.retain(|&s| (s as usize) < len);
        for n in 0..self.ns.len() {
            if let Some(Some(idx)) = self.ns.get(n)
                && idx.slots.is_empty()
                && let Some(idx) = self.ns.get_mut(n).and_then(Option::take)
            {
                self.by_ns.remove(&idx.namespace);
                self.ns_free.push(u32::try_from(n).unwrap_or(u32::MAX));
            }
        }
        while matches!(self.ns.last(), Some(None)) {
            self.ns.pop();
        }
        let len = self.ns.len();
        self.ns_free.retain(|&n| (n as usize) < len);
    }
}
