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
//! dropped. (A waiter on another replica still answers at its first read: the store alone
//! cannot tell it whether the persist step finished.)

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use crate::id::PendingId;

/// The ids this process is persisting a completion for.
#[derive(Debug, Default)]
pub(super) struct Settling {
    ids: Mutex<HashSet<PendingId>>,
}

impl Settling {
    /// Marks `id` as persisting until the returned entry is dropped.
    pub(super) fn begin(&self, id: PendingId) -> Entry<'_> {
        self.lock().insert(id);
        Entry { settling: self, id }
    }

    /// Whether a completion of `id` is being persisted in this process.
    pub(super) fn contains(&self, id: PendingId) -> bool {
        self.lock().contains(&id)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashSet<PendingId>> {
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
        self.settling.lock().remove(&self.id);
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
}
