//! [`Table::purge_some`], [`Table::clear`] and [`Table::shrink`]: forgetting records a chunk
//! at a time or a namespace at once, and giving memory back.

use std::collections::HashSet;
use std::time::Duration;

use super::super::lifecycle;
use super::count::OpenCount;
use super::table::{Entry, Loc, Table, index};
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::time::Timestamp;

/// One purge in progress ([`Table::purge_some`]): when it purges (`now`, `retention`), the
/// namespace it is in, and the position below which that namespace's records are still to
/// be looked at. Records are looked at from the last down, so a removal, which moves a
/// record looked at already into the hole, never skips one. Between two chunks the lock is
/// released, and a create or a transition there may move a record not yet looked at to
/// where the purge has looked (open records are kept first, see
/// [`partition`](super::partition)): if that record is due, [`Table::swap`] notes its id
/// (once), and the purge looks at it again before it goes on. A record due when the purge
/// started stays due (unless a transition with an earlier `now`, from another clock,
/// finishes it before its deadline: it is then due later), so the purge forgets every one
/// of them; it notes no more ids than the namespace has due records, and ends after as many
/// chunks as there are records, whatever runs in between. Several purges may run at once
/// (each has its cursor); one that is dropped takes its cursor with it.
#[derive(Debug)]
pub(super) struct Cursor {
    token: u64,
    now: Timestamp,
    retention: Duration,
    ns: usize,
    below: usize,
    moved: Vec<PendingId>,
    noted: HashSet<PendingId>,
}

impl Cursor {
    /// Whether this purge forgets the record `e`.
    fn due<T>(&self, e: &Entry<T>) -> bool {
        due(self.now, self.retention, e)
    }

    /// The record `e` of namespace `n` moved from position `from` to position `to`.
    pub(super) fn note<T>(&mut self, n: u32, e: &Entry<T>, from: usize, to: usize) {
        if n as usize == self.ns
            && from < self.below
            && to >= self.below
            && self.due(e)
            && self.noted.insert(e.id)
        {
            self.moved.push(e.id);
        }
    }
}

#[cfg(test)]
impl Cursor {
    /// How many noted ids wait to be looked at.
    pub(super) fn moved_len(&self) -> usize {
        self.moved.len()
    }
}

/// Whether a purge at `now` under `retention` forgets the record `e`.
fn due<T>(now: Timestamp, retention: Duration, e: &Entry<T>) -> bool {
    lifecycle::purge_due(e.state, e.expires_at, retention, now)
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

    /// Starts a purge of what is due at `now` under `retention`; returns its token.
    pub(super) fn purge_start(&mut self, now: Timestamp, retention: Duration) -> u64 {
        self.purges += 1;
        self.purging.push(Cursor {
            token: self.purges,
            now,
            retention,
            ns: 0,
            below: usize::MAX,
            moved: Vec::new(),
            noted: HashSet::new(),
        });
        self.purges
    }

    /// Ends the purge `token`, whether or not it looked at everything.
    pub(super) fn purge_end(&mut self, token: u64) {
        self.purging.retain(|c| c.token != token);
    }

    /// Looks at up to `budget` records for the purge `token` and removes the due ones (their
    /// ids go to `purged`); returns whether it has looked at every record (it then ends), or
    /// is not in progress.
    pub(super) fn purge_some(
        &mut self,
        token: u64,
        budget: usize,
        purged: &mut Vec<PendingId>,
    ) -> bool {
        let mut left = budget;
        loop {
            let Some(c) = self.purging.iter_mut().find(|c| c.token == token) else {
                return true;
            };
            let (now, retention) = (c.now, c.retention);
            // First the due records moved past the cursor since it passed (their ids).
            if let Some(id) = c.moved.pop() {
                left = left.saturating_sub(1);
                if let Some(at) = self.slot(&id)
                    && due(now, retention, self.entry(at))
                {
                    purged.push(self.remove(at, now).id);
                }
            } else if let Some(slot) = self.ns.get(c.ns) {
                let len = slot.as_ref().map_or(0, |ns| ns.records.len());
                if c.below.min(len) == 0 {
                    (c.ns, c.below) = (c.ns + 1, usize::MAX);
                    c.noted.clear();
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
                if due(now, retention, self.entry(at)) {
                    purged.push(self.remove(at, now).id);
                }
            } else {
                self.purge_end(token);
                return true;
            }
            if left == 0 {
                return false;
            }
        }
    }

    /// Forgets emptied namespaces and gives back what a namespace's `Vec`s hold beyond
    /// twice their records (e.g. after a burst was purged), and deadline queues that hold
    /// more than twice the open records.
    pub(super) fn shrink(&mut self) {
        for n in 0..self.ns.len() {
            let Some(ns) = self.ns.get_mut(n).and_then(Option::as_mut) else {
                continue;
            };
            if ns.open.due.as_ref().is_some_and(|q| q.bloated(ns.open.n)) {
                // Built again when a sweep needs it (see `DueQueue`).
                ns.open.due = None;
            }
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
