//! [`Table`]: the memory store's records and indexes, on standard collections.
//!
//! Records live once, grouped by namespace: each namespace keeps its records in one `Vec`,
//! the open ones first (so listing a namespace reads one contiguous block of its open
//! records, however large the store and however many finished records the namespace
//! retains; see [`partition`](super::partition)), and an id index ([`Ids`]) maps ids to a
//! namespace and a position in it. No payload is copied. A namespace where a create asked
//! to join also keeps a dedup index ([`Keys`]), and one that needed a sweep at its bound a
//! deadline queue ([`DueQueue`]).

use std::collections::HashMap;
use std::sync::Arc;

use super::super::{Body, Record, RecordState, lifecycle};
use super::count::{Deadlines, OpenCount};
use super::due::DueQueue;
use super::ids::Ids;
use super::keys::Keys;
use super::purge::Cursor;
use super::warm::warm;
use crate::id::PendingId;
use crate::namespace::{Namespace, PrehashedBuild};
use crate::time::Timestamp;

/// One stored record; its namespace is the one whose `records` hold it.
#[derive(Debug)]
pub(super) struct Entry<T> {
    pub(super) id: PendingId,
    pub(super) body: Arc<Body<T>>,
    pub(super) created_at: Timestamp,
    pub(super) expires_at: Timestamp,
    /// As stored: an open record past its deadline is still `Open` here until a sweep or a
    /// transition closes it; readers use [`Record::state_at`]'s rule.
    pub(super) state: RecordState,
}

impl<T> Entry<T> {
    /// The state as of `now`.
    pub(super) fn state_at(&self, now: Timestamp) -> RecordState {
        self.state.as_of(self.expires_at, now)
    }
}

/// Where a record is: its namespace's index in the table and its position there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Loc {
    pub(super) ns: u32,
    pub(super) pos: u32,
}

#[derive(Debug)]
pub(super) struct Ns<T> {
    pub(super) namespace: Namespace,
    pub(super) records: Vec<Entry<T>>,
    pub(super) open: OpenCount,
    pub(super) keys: Option<Box<Keys>>,
}

impl<T> Ns<T> {
    /// The records stored as open (expired ones not yet closed included): the first
    /// `open.n` (see [`partition`](super::partition)).
    pub(super) fn open_records(&self) -> &[Entry<T>] {
        &self.records[..self.open.n]
    }
}

/// The records and their indexes. Every method keeps the indexes and counts consistent.
#[derive(Debug)]
pub(super) struct Table<T> {
    /// Ids are random (the manager draws them), so their folded bits are the hash: no
    /// SipHash per lookup (an id from outside only looks up).
    pub(super) by_id: Ids<T>,
    pub(super) by_ns: HashMap<Namespace, u32, PrehashedBuild>,
    pub(super) ns: Vec<Option<Ns<T>>>,
    pub(super) ns_free: Vec<u32>,
    pub(super) open: Deadlines,
    /// Records stored as open (expired ones not yet closed included).
    pub(super) stored_open: usize,
    /// The purges in progress.
    pub(super) purging: Vec<Cursor>,
    /// How many purges have started (their tokens).
    pub(super) purges: u64,
}

/// The table holds `u32::MAX` namespaces, or records in one namespace, already.
#[derive(Debug, thiserror::Error)]
#[error("the memory store is full")]
pub struct TableFull;

pub(super) fn index(i: usize) -> Result<u32, TableFull> {
    u32::try_from(i).map_err(|_| TableFull)
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self {
            by_id: Ids::default(),
            by_ns: HashMap::default(),
            ns: Vec::new(),
            ns_free: Vec::new(),
            open: Deadlines::default(),
            stored_open: 0,
            purging: Vec::new(),
            purges: 0,
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

    pub(super) fn slot(&self, id: &PendingId) -> Option<Loc> {
        let ns = &self.ns;
        self.by_id.get(id, |at| id_at(ns, at)).map(|s| s.at)
    }

    /// The record with this id, in its state as of `now` (its body from the id index).
    pub(super) fn get(&self, id: &PendingId, now: Timestamp) -> Option<Record<T>> {
        let ns = &self.ns;
        let s = self.by_id.get(id, |at| id_at(ns, at))?;
        let ns = self.ns_index(s.at.ns);
        Some(to_record(
            &ns.records[s.at.pos as usize],
            &ns.namespace,
            now,
            &s.body,
        ))
    }

    fn ns_index(&self, n: u32) -> &Ns<T> {
        match self.ns.get(n as usize) {
            Some(Some(i)) => i,
            // Locations and `by_ns` only ever point at live namespaces.
            _ => unreachable!("index points at an empty namespace slot"),
        }
    }

    pub(super) fn ns_index_mut(&mut self, n: u32) -> &mut Ns<T> {
        match self.ns.get_mut(n as usize) {
            Some(Some(i)) => i,
            _ => unreachable!("index points at an empty namespace slot"),
        }
    }

    pub(super) fn entry(&self, at: Loc) -> &Entry<T> {
        &self.ns_index(at.ns).records[at.pos as usize]
    }

    /// The namespace of the record at `at`.
    pub(super) fn namespace_of(&self, at: Loc) -> &Namespace {
        &self.ns_index(at.ns).namespace
    }

    /// The record at `at`, in its state as of `now`.
    pub(super) fn record(&self, at: Loc, now: Timestamp) -> Record<T> {
        let ns = self.ns_index(at.ns);
        let e = &ns.records[at.pos as usize];
        to_record(e, &ns.namespace, now, &e.body)
    }

    /// A namespace's open, unexpired records as of `now`.
    pub(super) fn list(&self, namespace: &Namespace, now: Timestamp) -> Vec<Record<T>> {
        let Some(&n) = self.by_ns.get(namespace) else {
            return Vec::new();
        };
        let ns = self.ns_index(n);
        let listed = || ns.open_records().iter().filter(|e| e.expires_at > now);
        // The bodies' loads overlap, instead of one after each clone (see `warm`).
        listed().for_each(|e| warm(&e.body));
        // At most the records stored as open: one allocation, no regrowth.
        let mut open = Vec::with_capacity(ns.open.n);
        open.extend(listed().map(|e| to_record(e, &ns.namespace, now, &e.body)));
        open
    }

    /// An open, unexpired record of the namespace with `body`'s dedup key (closing the
    /// expired ones it meets on the way).
    pub(super) fn joinable(
        &mut self,
        namespace: &Namespace,
        body: &Body<T>,
        now: Timestamp,
    ) -> Option<Loc> {
        let n = *self.by_ns.get(namespace)?;
        let ns = self.ns_index_mut(n);
        if ns.keys.is_none() {
            ns.keys = Some(Box::new(Keys::build(&ns.records)));
        }
        loop {
            let ns = self.ns_index_mut(n);
            let p = ns.keys.as_mut()?.first_open(body)?;
            let at = Loc {
                ns: n,
                pos: index(p).ok()?,
            };
            let expires_at = ns.records[p].expires_at;
            if lifecycle::joinable(ns.records[p].state, expires_at, now) {
                return Some(at);
            }
            self.close(at, RecordState::Expired { at: expires_at });
        }
    }

    /// The most recent decline stored in the namespace with `body`'s dedup key (after
    /// [`joinable`](Self::joinable) built the namespace's index).
    pub(super) fn latest_decline(&mut self, namespace: &Namespace, body: &Body<T>) -> Option<Loc> {
        let n = *self.by_ns.get(namespace)?;
        let p = self.ns_index_mut(n).keys.as_mut()?.latest_decline(body)?;
        Some(Loc {
            ns: n,
            pos: index(p).ok()?,
        })
    }

    /// How many open, unexpired records the namespace holds, exact at least up to `bound`.
    pub(super) fn open_in(&mut self, namespace: &Namespace, now: Timestamp, bound: usize) -> usize {
        let Some(&n) = self.by_ns.get(namespace) else {
            return 0;
        };
        let ns = self.ns_index_mut(n);
        if ns.open.n >= bound && ns.open.earliest <= now {
            // Close the expired open records (they stop counting), earliest first.
            if ns.open.due.as_ref().is_none_or(|q| q.bloated(ns.open.n)) {
                let due = DueQueue::build(ns.open_records());
                ns.open.due = Some(due);
            }
            while let Some((deadline, id)) = self
                .ns_index_mut(n)
                .open
                .due
                .as_mut()
                .and_then(|q| q.pop_due(now))
            {
                // Unless the record finished (or went) meanwhile.
                if let Some(at) = self.slot(&id)
                    && at.ns == n
                    && self.entry(at).state.is_open()
                    && self.entry(at).expires_at == deadline
                {
                    self.close(at, RecordState::Expired { at: deadline });
                }
            }
            let ns = self.ns_index_mut(n);
            ns.open.earliest = ns
                .open
                .due
                .as_ref()
                .and_then(DueQueue::earliest)
                .unwrap_or(OpenCount::NONE.earliest);
        }
        self.ns_index(n).open.n
    }

    /// How many open, unexpired records the table holds.
    pub(super) fn open_total(&mut self, now: Timestamp) -> usize {
        if !self.open.enabled {
            self.open.enabled = true;
            let deadlines: Vec<Timestamp> = self
                .ns
                .iter()
                .flatten()
                .flat_map(|ns| ns.open_records())
                .map(|e| e.expires_at)
                .collect();
            for d in deadlines {
                self.open.add(d);
            }
        }
        self.open.count(now)
    }

    pub(super) fn namespace_for(&mut self, namespace: &Namespace) -> Result<u32, TableFull> {
        if let Some(&n) = self.by_ns.get(namespace) {
            return Ok(n);
        }
        let ns = Ns {
            namespace: namespace.clone(),
            records: Vec::new(),
            open: OpenCount::NONE,
            keys: None,
        };
        let n = match self.ns_free.pop() {
            Some(n) => {
                self.ns[n as usize] = Some(ns);
                n
            }
            None => {
                let n = index(self.ns.len())?;
                self.ns.push(Some(ns));
                n
            }
        };
        self.by_ns.insert(namespace.clone(), n);
        Ok(n)
    }
}

/// The id of the record at `at`.
fn id_at<T>(ns: &[Option<Ns<T>>], at: Loc) -> Option<PendingId> {
    let ns = ns.get(at.ns as usize)?.as_ref()?;
    Some(ns.records.get(at.pos as usize)?.id)
}

/// The record of entry `e`, in its state as of `now`, with `body` (the entry's own, or the
/// same one as the id index holds it: a get takes it from there, see [`Ids`]).
pub(super) fn to_record<T>(
    e: &Entry<T>,
    namespace: &Namespace,
    now: Timestamp,
    body: &Arc<Body<T>>,
) -> Record<T> {
    Record::new(
        e.id,
        namespace.clone(),
        e.created_at,
        e.expires_at,
        e.state_at(now),
        body.clone(),
    )
}
