//! Counting open records exactly, without a timer: per namespace ([`OpenCount`]) and for
//! the whole store ([`Deadlines`]).

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::ops::Bound::{self, Excluded, Included};

use super::due::DueQueue;
use crate::id::PendingId;
use crate::time::Timestamp;

/// A namespace's open records counted, with a lower bound on their deadlines. Expiry is
/// exact without a timer: when the count reaches the bound and `earliest <= now`, a sweep
/// closes the expired ones, taking them earliest deadline first from the namespace's
/// [`DueQueue`], so it reads only the records it closes (and entries of records that
/// finished otherwise, each once), whatever the bound; building the queue reads the open
/// records once, paid for by the inserts before it (see [`DueQueue`]).
#[derive(Debug)]
pub(super) struct OpenCount {
    pub(super) n: usize,
    pub(super) earliest: Timestamp,
    /// The open records by deadline, once the namespace needed a sweep (see [`DueQueue`]).
    pub(super) due: Option<DueQueue>,
}

impl OpenCount {
    pub(super) const NONE: Self = Self {
        n: 0,
        earliest: Timestamp::from_millis(u64::MAX),
        due: None,
    };

    /// Counts a new open record.
    pub(super) fn add(&mut self, expires_at: Timestamp, id: PendingId) {
        self.n += 1;
        self.earliest = self.earliest.min(expires_at);
        if let Some(due) = &mut self.due {
            if due.bloated(self.n) {
                // Built again, from the open records, by the next sweep that needs it.
                self.due = None;
            } else {
                due.push(expires_at, id);
            }
        }
    }
}

/// The store's open records counted by deadline, so the total is exact at any `now` without
/// a scan. It keeps the deadline of every record stored as open (expired ones not yet closed
/// included, until a transition, sweep, clear or purge takes them), one entry per distinct
/// deadline in milliseconds (so a burst of creates shares a few), and two cursors: points in
/// time, each with how many of those records are due after it. A count at `now` moves a
/// cursor to `now`, stepping over the entries in between (adding the records of those it
/// passes going back, taking off those it passes going forward). So a count at a `now`
/// earlier than a previous count's (a clock stepped back, managers with different clocks on
/// one store, or a caller whose clock read was a little older) still counts every record
/// whose deadline is after its `now`.
///
/// Which cursor moves follows the double-coverage rule of the 2-server problem on a line
/// (the distance being entries): when `now` lies between the cursors, both move towards it
/// one entry at a time until one arrives; otherwise only the nearer one moves. That costs at
/// most twice the least cursor movement any rule could manage (plus a constant), so with
/// one clock, even one stepping back now and then, or two clocks apart (each going forward),
/// each keeping a cursor near itself, a count passes on average a constant number of
/// entries: those added or removed since, and those its clock's time moved past. (Three or
/// more clocks far apart taking turns would make counts pass the entries between them.)
/// Adding or removing a deadline is one map update and two comparisons.
///
/// Kept only once a create checked a total bound (built then from the stored records,
/// once): with no total bound, as by default, it costs nothing.
#[derive(Debug)]
pub(super) struct Deadlines {
    pub(super) enabled: bool,
    /// Each deadline of a record stored as open, with how many have it.
    by_deadline: BTreeMap<Timestamp, usize>,
    cursors: [Cursor; 2],
    /// Entries the cursors stepped over, in all (tests check the amortised cost by it).
    #[cfg(test)]
    pub(super) steps: u64,
}

/// A point in time and how many open records have a deadline after it.
#[derive(Debug, Clone, Copy)]
struct Cursor {
    at: Timestamp,
    live: usize,
}

impl Default for Deadlines {
    fn default() -> Self {
        let start = Cursor {
            at: Timestamp::EPOCH,
            live: 0,
        };
        Self {
            enabled: false,
            by_deadline: BTreeMap::new(),
            cursors: [start; 2],
            #[cfg(test)]
            steps: 0,
        }
    }
}

impl Deadlines {
    pub(super) fn add(&mut self, expires_at: Timestamp) {
        if self.enabled {
            *self.by_deadline.entry(expires_at).or_default() += 1;
            for c in &mut self.cursors {
                if expires_at > c.at {
                    c.live += 1;
                }
            }
        }
    }

    pub(super) fn remove(&mut self, expires_at: Timestamp) {
        if !self.enabled {
            return;
        }
        // Every record stored as open was added (when the count was built, or since).
        debug_assert!(self.by_deadline.contains_key(&expires_at));
        if let Entry::Occupied(mut e) = self.by_deadline.entry(expires_at) {
            *e.get_mut() -= 1;
            if *e.get() == 0 {
                e.remove();
            }
            for c in &mut self.cursors {
                if expires_at > c.at {
                    c.live -= 1;
                }
            }
        }
    }

    /// The records of the deadlines in `range`, which a cursor passes.
    fn pass(&mut self, range: (Bound<Timestamp>, Bound<Timestamp>)) -> usize {
        let (records, entries) = self
            .by_deadline
            .range(range)
            .fold((0, 0), |(records, entries), (_, n)| {
                (records + n, entries + 1)
            });
        #[cfg(test)]
        {
            self.steps += entries;
        }
        let _ = entries;
        records
    }

    /// How many open records have a deadline after `now`.
    pub(super) fn count(&mut self, now: Timestamp) -> usize {
        let (lo, hi) = if self.cursors[0].at <= self.cursors[1].at {
            (0, 1)
        } else {
            (1, 0)
        };
        let (lo_at, hi_at) = (self.cursors[lo].at, self.cursors[hi].at);
        if now <= lo_at {
            // Only the nearer cursor moves: back, adding the records it passes.
            let passed = self.pass((Excluded(now), Included(lo_at)));
            let c = &mut self.cursors[lo];
            c.live += passed;
            c.at = now;
            return c.live;
        }
        if now >= hi_at {
            // Forward, taking off the records it passes.
            let passed = self.pass((Excluded(hi_at), Included(now)));
            let c = &mut self.cursors[hi];
            c.live -= passed;
            c.at = now;
            return c.live;
        }
        // Between the two: both move towards `now`, an entry at a time, until one arrives.
        let mut up = self.by_deadline.range((Excluded(lo_at), Included(now)));
        let mut down = self
            .by_deadline
            .range((Excluded(now), Included(hi_at)))
            .rev();
        // Where each cursor ends up (the lower one at `now` if it arrives).
        let (mut up_passed, mut up_at) = (0, now);
        let (mut down_passed, mut down_at) = (0, hi_at);
        let arrived = loop {
            let Some((&at, &n)) = up.next() else {
                break lo;
            };
            (up_passed, up_at) = (up_passed + n, at);
            #[cfg(test)]
            {
                self.steps += 1;
            }
            let Some((&at, &n)) = down.next() else {
                down_at = now;
                break hi;
            };
            // Past a deadline `at` going back: every record due after `at - 1` counts
            // (deadlines are whole milliseconds, and `at > now`).
            (down_passed, down_at) = (down_passed + n, Timestamp::from_millis(at.as_millis() - 1));
            #[cfg(test)]
            {
                self.steps += 1;
            }
        };
        let up = &mut self.cursors[lo];
        up.live -= up_passed;
        up.at = up_at;
        let down = &mut self.cursors[hi];
        down.live += down_passed;
        down.at = down_at;
        self.cursors[arrived].live
    }
}
