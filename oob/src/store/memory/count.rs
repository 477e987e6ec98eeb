//! Counting open records exactly, without a timer: per namespace ([`OpenCount`]) and for
//! the whole store ([`Deadlines`]).

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use crate::time::Timestamp;

/// A namespace's open records counted, with a lower bound on their deadlines. Expiry is
/// exact without a timer: when the count reaches the bound and `earliest <= now`, a sweep of
/// the namespace closes the expired ones and makes `earliest` exact again. A sweep only
/// happens at the bound, and each one either closes a record or follows a transition that
/// made `earliest` stale, so its cost (the namespace's records, at most the bound plus those
/// retained) is paid for by the records it sweeps or by the transitions before it.
#[derive(Debug)]
pub(super) struct OpenCount {
    pub(super) n: usize,
    pub(super) earliest: Timestamp,
}

impl OpenCount {
    pub(super) const NONE: Self = Self {
        n: 0,
        earliest: Timestamp::from_millis(u64::MAX),
    };

    pub(super) fn add(&mut self, expires_at: Timestamp) {
        self.n += 1;
        self.earliest = self.earliest.min(expires_at);
    }
}

/// The store's open records counted by deadline, so the total is exact at any `now` without
/// a scan: counting drops the deadlines `<= now` (each once). One entry per distinct open
/// deadline (in milliseconds), so a burst of creates shares a few. Records whose deadline a
/// count already dropped are no longer counted, also for a later, smaller `now` (a caller
/// whose clock read was a little older). Kept only once a create checked a total bound
/// (built then from the stored records, once): with no total bound, as by default, it costs
/// nothing.
#[derive(Debug)]
pub(super) struct Deadlines {
    pub(super) enabled: bool,
    by_deadline: BTreeMap<Timestamp, usize>,
    /// Every deadline up to this one has been dropped.
    dropped: Timestamp,
    live: usize,
}

impl Default for Deadlines {
    fn default() -> Self {
        Self {
            enabled: false,
            by_deadline: BTreeMap::new(),
            dropped: Timestamp::EPOCH,
            live: 0,
        }
    }
}

impl Deadlines {
    pub(super) fn add(&mut self, expires_at: Timestamp) {
        if self.enabled && expires_at > self.dropped {
            *self.by_deadline.entry(expires_at).or_default() += 1;
            self.live += 1;
        }
    }

    pub(super) fn remove(&mut self, expires_at: Timestamp) {
        if self.enabled
            && expires_at > self.dropped
            && let Entry::Occupied(mut e) = self.by_deadline.entry(expires_at)
        {
            *e.get_mut() -= 1;
            if *e.get() == 0 {
                e.remove();
            }
            self.live -= 1;
        }
    }

    pub(super) fn count(&mut self, now: Timestamp) -> usize {
        while let Some(first) = self.by_deadline.first_entry()
            && *first.key() <= now
        {
            self.live -= first.remove();
        }
        self.dropped = self.dropped.max(now);
        self.live
    }
}
