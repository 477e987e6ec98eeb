//! [`Table::purge_some`], [`Table::clear`] and [`Table::shrink`]: forgetting records a chunk
//! at a time or a namespace at once, and giving memory back.

use super::count::OpenCount;
use super::table::{Entry, Loc, Table, index};
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::time::Timestamp;

/// Where [`Table::purge_some`] goes on: a namespace, and the position below which its
/// records are still to be looked at (records are looked at from the last down, so a
/// removal, which moves a record looked at already into the hole, never skips one). Between
/// two chunks the lock is released: a create or a transition there may move a record not
/// yet looked at above the cursor (open records are kept first, see
/// [`partition`](super::partition)), and it is then left to the next purge (a read already
/// treats it as gone).
#[derive(Debug, Clone, Copy)]
pub(super) struct Cursor {
    ns: usize,
    below: usize,
}

impl Cursor {
    pub(super) const START: Self = Self {
        ns: 0,
        below: usize::MAX,
    };
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

    /// Looks at up to `budget` records from `cursor` on and removes those `due` says; returns
    /// whether every namespace has been looked at.
    pub(super) fn purge_some(
        &mut self,
        cursor: &mut Cursor,
        budget: usize,
        now: Timestamp,
        due: impl Fn(&Entry<T>) -> bool,
        purged: &mut Vec<PendingId>,
    ) -> bool {
        let mut left = budget;
        while let Some(slot) = self.ns.get(cursor.ns) {
            let len = slot.as_ref().map_or(0, |ns| ns.records.len());
            let mut p = cursor.below.min(len);
            while p > 0 && left > 0 {
                p -= 1;
                left -= 1;
                let at = Loc {
                    ns: index(cursor.ns).unwrap_or(u32::MAX),
                    pos: index(p).unwrap_or(u32::MAX),
                };
                if due(self.entry(at)) {
                    purged.push(self.remove(at, now).id);
                }
            }
            if p > 0 {
                cursor.below = p;
                return false;
            }
            *cursor = Cursor {
                ns: cursor.ns + 1,
                below: usize::MAX,
            };
            if left == 0 {
                return cursor.ns >= self.ns.len();
            }
        }
        true
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
