//! Completions whose persist step is still running in this process.
//!
//! [`Manager::complete_with`](super::Manager::complete_with) finishes the record in the
//! store first (so exactly one call wins) and only then runs the persist step that writes
//! what the user gave. Between the two, a reader that looks at the store sees a completed
//! record whose result is not written yet: a waiter that starts at that moment, or one
//! woken by a store's "re-read everything" signal (a reconnect of its change events, a
//! periodic sweep), would report the completion before the result can be read.
//!
//! The manager therefore remembers the ids it is persisting. A waiter of this process that
//! reads such a record keeps waiting for the completer's wake-up instead of answering; the
//! entry is gone before the completer wakes anyone, and when the completer's future is
//! dropped. Entries are counted per id: a second `complete_with` of the same id (a double
//! submit, which loses at the store) ends only its own entry, not the winner's. (A waiter on another replica still answers at its first read: the store alone
//! cannot tell it whether the persist step finished.)

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::id::PendingId;

/// The ids this process is persisting a completion for, with how many calls hold each.
#[derive(Debug, Default)]
pub(super) struct Settling {
    ids: Mutex<HashMap<PendingId, usize>>,
}

impl Settling {
    /// Marks `id` as persisting until the returned entry is dropped.
    pub(super) fn begin(&self, id: PendingId) -> Entry<'_> {
        *self.lock().entry(id).or_insert(0) += 1;
        Entry { settling: self, id }
    }

    /// Whether a completion of `id` is being persisted in this process.
    pub(super) fn contains(&self, id: PendingId) -> bool {
        self.lock().contains_key(&id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PendingId, usize>> {
        self.ids.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An id being persisted; dropping it ends that (before the waiters are woken).
#[derive(Debug)]
pub(super) struct Entry<'a> {
    settling: &'a Settling,
    id: PendingId,
}

impl Drop for Entry<'_> {
    fn drop(&mut self) {
        let mut ids = self.settling.lock();
        if let Some(n) = ids.get_mut(&self.id) {
            *n -= 1;
            if *n == 0 {
                ids.remove(&self.id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Settling;
    use crate::id::PendingId;

    #[test]
    fn an_entry_lasts_until_dropped() {
        let s = Settling::default();
        let id = PendingId::random();
        let entry = s.begin(id);
        assert!(s.contains(id));
        assert!(!s.contains(PendingId::random()));
        drop(entry);
        assert!(!s.contains(id));
    }

    #[test]
    fn a_second_entry_for_the_same_id_does_not_end_the_first() {
        let s = Settling::default();
        let id = PendingId::random();
        let winner = s.begin(id);
        let loser = s.begin(id);
        drop(loser);
        assert!(s.contains(id), "the loser ended the winner's entry");
        drop(winner);
        assert!(!s.contains(id));
    }
}
