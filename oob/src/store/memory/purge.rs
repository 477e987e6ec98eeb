//! [`Table::purge_some`], [`Table::clear`] and [`Table::shrink`]: forgetting records a chunk
//! at a time or a namespace at once, and giving memory back.

use super::count::OpenCount;
use super::table::{Entry, Loc, Table, index};
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::time::Timestamp;

/// Where the purge in progress ([`Table::purge_some`]) goes on: a namespace, and the
/// position below which its records are still to be looked at. Records are looked at from
/// the last down, so a removal, which moves a record looked at already into the hole, never
/// skips one. Between two chunks the lock is released, and a create or a transition there
/// may move a record not yet looked at to where the purge has looked (open records are
/// kept first, see [`partition`](super::partition)): [`Table::swap`] then notes its id in
/// `moved`, and the purge looks at it before it ends. So a purge forgets every record that
/// was due when it started.
#[derive(Debug)]
pub(super) struct Cursor {
    ns: usize,
    below: usize,
    moved: Vec<PendingId>,
}

impl Cursor {
    const START: Self = Self {
        ns: 0,
        below: usize::MAX,
        moved: Vec::new(),
    };

    /// The record `id` of namespace `n` moved from position `from` to position `to`.
    pub(super) fn note(&mut self, n: u32, id: PendingId, from: usize, to: usize) {
        if n as usize == self.ns && from < self.below && to >= self.below {
            self.moved.push(id);
        }
    }
}

impl<T> Table<T> {
    /// Removes every record of a namespace; returns their ids.
    pub(super) fn clear(&mut self, namespace: &Namespace) -> Vec<PendingId> {
        let Some(&n) = self.by_ns.get(namespace) else {
            return Vec::new();
        };
        let ns = self.ns_index_mut(n);
        let records = std::mem::take(&mut ns.records);
        ns.keys = None;
        ns.open = OpenCount::NONE;
        for e in records.iter().filter(|e| e.state.is_open()) {
            self.open.remove(e.expires_at);
            self.stored_open -= 1;
        }
        records
            .into_iter()
            .enumerate()
            .map(|(p, e)| {
                let at = Loc {
                    ns: n,
                    pos: index(p).unwrap_or(u32::MAX),
                };
                self.by_id.remove(&e.id, at);
                e.id
            })
            .collect()
    }

    /// Starts a purge (one at a time: the store serialises them), dropping what an abandoned
    /// one left.
    pub(super) fn purge_start(&mut self) {
        self.purging = Some(Cursor::START);
    }

    /// Ends the purge in progress, whether or not it looked at everything.
    pub(super) fn purge_end(&mut self) {
        self.purging = None;
    }

    /// Looks at up to `budget` records of the purge in progress and removes those `due` says;
    /// returns whether every record has been looked at (the purge then ends).
    pub(super) fn purge_some(
        &mut self,
        budget: usize,
        now: Timestamp,
        due: impl Fn(&Entry<T>) -> bool,
        purged: &mut Vec<PendingId>,
    ) -> bool {
        let mut left = budget;
        loop {
            let Some(c) = self.purging.as_mut() else {
                return true;
            };
            // First the records moved past the cursor since it passed (their ids).
            if let Some(id) = c.moved.pop() {
                left = left.saturating_sub(1);
                if let Some(at) = self.slot(&id)
                    && due(self.entry(at))
                {
                    purged.push(self.remove(at, now).id);
                }
            } else if let Some(slot) = self.ns.get(c.ns) {
                let len = slot.as_ref().map_or(0, |ns| ns.records.len());
                if c.below.min(len) == 0 {
                    (c.ns, c.below) = (c.ns + 1, usize::MAX);
                    continue;
                }
                let p = c.below.min(len) - 1;
                // Looked at from now on (so a removal's own moves are not noted).
                c.below = p;
                left = left.saturating_sub(1);
                let at = Loc {
                    ns: index(c.ns).unwrap_or(u32::MAX),
                    pos: index(p).unwrap_or(u32::MAX),
                };
                if due(self.entry(at)) {
                    purged.push(self.remove(at, now).id);
                }
            } else {
                self.purge_end();
                return true;
            }
            if left == 0 {
                return false;
            }
        }
    }

    /// Forgets emptied namespaces and gives back what a namespace's `Vec`s hold beyond
    /// twice their records (e.g. after a burst was purged).
    pub(super) fn shrink(&mut self) {
        for n in 0..self.ns.len() {
            let Some(ns) = self.ns.get_mut(n).and_then(Option::as_mut) else {
                continue;
            };
            if ns.records.is_empty() {
                if let Some(ns) = self.ns.get_mut(n).and_then(Option::take) {
                    self.by_ns.remove(&ns.namespace);
                    self.ns_free.push(u32::try_from(n).unwrap_or(u32::MAX));
                }
            } else if ns.records.capacity() > 2 * ns.records.len() + 8 {
                ns.records.shrink_to(ns.records.len() * 5 / 4);
                if let Some(keys) = &mut ns.keys {
                    keys.shrink_to(ns.records.len() * 5 / 4);
                }
            }
        }
        while matches!(self.ns.last(), Some(None)) {
            self.ns.pop();
        }
        let len = self.ns.len();
        self.ns_free.retain(|&n| (n as usize) < len);
    }
}
