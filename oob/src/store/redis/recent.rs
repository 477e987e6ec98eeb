//! [`Recent`]: the namespace index keys of the records this store created lately, so that
//! completing one of them is a single round trip (see `finish.rs`).
//!
//! A record's namespace never changes, so neither does its index key: an entry
//! stays right for as long as the id exists. A record completed elsewhere, cleared or
//! purged leaves its entry here until it is pushed out (oldest first), and a wrong entry
//! cannot occur, since an id is stored once (`DuplicateId` otherwise).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use crate::id::PendingId;

/// How many records' keys are kept (about 100 bytes each with a short namespace, up to about
/// 400 with one of 256 bytes: the namespace index key holds the namespace).
const CAPACITY: usize = 65_536;

#[derive(Default)]
struct Inner {
    keys: BTreeMap<PendingId, String>,
    order: VecDeque<PendingId>,
}

/// The namespace index keys of recently created records, by id, at most [`CAPACITY`] of them.
#[derive(Default)]
pub(crate) struct Recent {
    inner: Mutex<Inner>,
}

impl Recent {
    /// Remembers a record this store just created.
    pub(crate) fn insert(&self, id: PendingId, namespace_index: String) {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if inner.keys.insert(id, namespace_index).is_none() {
            inner.order.push_back(id);
        }
        while inner.order.len() > CAPACITY {
            // Ids already taken out stay in `order` until they come up here.
            if let Some(old) = inner.order.pop_front() {
                inner.keys.remove(&old);
            }
        }
    }

    /// Takes the namespace index key of `id` out, if this store created it lately.
    pub(crate) fn take(&self, id: PendingId) -> Option<String> {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let keys = inner.keys.remove(&id);
        if inner.keys.is_empty() {
            inner.order.clear();
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: &str) -> String {
        n.to_owned()
    }

    #[test]
    fn taken_once_and_the_oldest_pushed_out() {
        let r = Recent::default();
        let first = PendingId::random();
        r.insert(first, keys("a"));
        assert_eq!(r.take(first).as_deref(), Some("a"));
        assert!(r.take(first).is_none());
        let ids: Vec<PendingId> = (0..=CAPACITY).map(|_| PendingId::random()).collect();
        for id in &ids {
            r.insert(*id, keys("b"));
        }
        assert!(r.take(ids[0]).is_none(), "the oldest is pushed out");
        assert!(r.take(ids[CAPACITY]).is_some());
    }
}
