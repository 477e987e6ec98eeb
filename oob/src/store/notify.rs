//! [`Notifier`]: the per-id wake-up registry that stores use for waiters.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

use super::Record;
use crate::id::PendingId;

type Event<T> = Option<Arc<Record<T>>>;

/// A registry of waiters by pending id. Stores call [`notify`](Notifier::notify) on every
/// change of a record; waiters hold a [`Subscription`].
///
/// A subscription costs one small channel per waited-on id (shared by all its waiters), and
/// nothing for ids nobody waits on: [`notify`](Notifier::notify) is one atomic load then.
/// Dropping the last subscription of an id removes its entry.
#[derive(Debug)]
pub struct Notifier<T> {
    inner: Arc<Inner<T>>,
}

#[derive(Debug)]
struct Inner<T> {
    map: Mutex<HashMap<PendingId, watch::Sender<Event<T>>>>,
    watched: AtomicUsize,
}

impl<T> Clone for Notifier<T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Default for Notifier<T> {
    fn default() -> Self {
        Self {
            inner: Arc::new(Inner {
                map: Mutex::new(HashMap::new()),
                watched: AtomicUsize::new(0),
            }),
        }
    }
}

/// A waiter's subscription to changes of one pending id.
#[derive(Debug)]
pub struct Subscription<T> {
    id: PendingId,
    /// `None` only while it is dropped (dropped under the registry's lock, see `Drop`).
    rx: Option<watch::Receiver<Event<T>>>,
    registry: Option<Notifier<T>>,
    _hold: Option<watch::Sender<Event<T>>>,
}

impl<T> Notifier<T> {
    /// An empty registry.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Subscribes to changes of `id`.
    #[must_use]
    pub fn subscribe(&self, id: PendingId) -> Subscription<T> {
        let mut map = self
            .inner
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let rx = map
            .entry(id)
            .or_insert_with(|| {
                self.inner.watched.fetch_add(1, Ordering::SeqCst);
                watch::channel(None).0
            })
            .subscribe();
        Subscription {
            id,
            rx: Some(rx),
            registry: Some(self.clone()),
            _hold: None,
        }
    }

    /// Whether anybody waits on any id (one atomic load).
    #[must_use]
    pub fn has_waiters(&self) -> bool {
        self.inner.watched.load(Ordering::SeqCst) != 0
    }

    /// Whether anybody waits on `id`.
    #[must_use]
    pub fn is_watched(&self, id: PendingId) -> bool {
        self.has_waiters()
            && self
                .inner
                .map
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains_key(&id)
    }

    /// Wakes every subscriber of `id`; they re-read the record from the store, unless an
    /// earlier event handed them the record after its transition (a record finishes once, so
    /// that outcome stands: an event without a record never erases it).
    pub fn notify(&self, id: PendingId) {
        self.send(id, None);
    }

    /// Wakes every subscriber of `id`, handing them the record as it is after the change
    /// (so they see the outcome even when the store forgets the record at once).
    pub fn notify_with(&self, id: PendingId, record: Record<T>) {
        self.send(id, Some(Arc::new(record)));
    }

    fn send(&self, id: PendingId, event: Event<T>) {
        if !self.has_waiters() {
            return;
        }
        let map = self
            .inner
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = map.get(&id) {
            wake(tx, event);
        }
    }

    /// Wakes every subscriber of every id (e.g. after a reconnect, when events may have been
    /// missed).
    pub fn notify_all(&self) {
        if !self.has_waiters() {
            return;
        }
        let map = self
            .inner
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for tx in map.values() {
            wake(tx, None);
        }
    }

    /// How many ids have at least one subscriber.
    #[must_use]
    pub fn watched(&self) -> usize {
        self.inner.watched.load(Ordering::SeqCst)
    }
}

/// Marks a change for `tx`'s subscribers: with the record `event` carries, or keeping the
/// record an earlier event carried (the caller that handed it over may have gone away before
/// a later, bare event, e.g. a dropped caller's fallback wake-up, comes).
fn wake<T>(tx: &watch::Sender<Event<T>>, event: Event<T>) {
    match event {
        Some(record) => {
            tx.send_replace(Some(record));
        }
        None => tx.send_modify(|_| {}),
    }
}

impl<T> Subscription<T> {
    /// The id this subscription watches.
    #[must_use]
    pub fn id(&self) -> PendingId {
        self.id
    }

    /// Resolves at the next change after the last one seen, with the record after the
    /// change when the store handed it over.
    pub async fn changed(&mut self) -> Option<Arc<Record<T>>> {
        let Some(rx) = self.rx.as_mut() else {
            return std::future::pending().await;
        };
        if rx.changed().await.is_err() {
            // The sender lives as long as any receiver of its entry; never spin.
            std::future::pending::<()>().await;
        }
        rx.borrow_and_update().clone()
    }

    /// The record of a change that happened since the last one seen, without waiting; `None`
    /// when nothing changed or the change carried no record.
    pub fn try_changed(&mut self) -> Option<Arc<Record<T>>> {
        let rx = self.rx.as_mut()?;
        match rx.has_changed() {
            Ok(true) => rx.borrow_and_update().clone(),
            _ => None,
        }
    }

    /// A subscription that never fires, for stores with no change events (waiters then rely
    /// on their deadline and timeout alone).
    #[must_use]
    pub fn never(id: PendingId) -> Self {
        let (tx, rx) = watch::channel(None);
        Self {
            id,
            rx: Some(rx),
            registry: None,
            _hold: Some(tx),
        }
    }
}

impl<T> Drop for Subscription<T> {
    fn drop(&mut self) {
        if let Some(reg) = &self.registry {
            let mut map = reg.inner.map.lock().unwrap_or_else(PoisonError::into_inner);
            // The receiver goes under the lock, so of two subscriptions of one id dropped at
            // once, the second to take the lock sees none left and removes the entry.
            drop(self.rx.take());
            if map.get(&self.id).is_some_and(|tx| tx.receiver_count() == 0) {
                map.remove(&self.id);
                reg.inner.watched.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_subscriptions_dropped_at_once_leave_no_entry() {
        let n = Notifier::<()>::new();
        for _ in 0..20_000 {
            let id = PendingId::random();
            let (a, b) = (n.subscribe(id), n.subscribe(id));
            let barrier = Arc::new(std::sync::Barrier::new(2));
            let other = barrier.clone();
            let t = std::thread::spawn(move || {
                other.wait();
                drop(b);
            });
            barrier.wait();
            drop(a);
            t.join().unwrap();
            assert!(!n.is_watched(id));
        }
        assert_eq!(n.watched(), 0);
    }

    #[tokio::test]
    async fn a_bare_wake_up_keeps_the_record_an_event_carried() {
        let n = Notifier::<()>::new();
        let id = PendingId::random();
        let mut s = n.subscribe(id);
        let record = Record {
            id,
            namespace: crate::Namespace::new("a").unwrap(),
            created_at: crate::time::Timestamp::from_millis(1),
            expires_at: crate::time::Timestamp::from_millis(2),
            state: crate::store::RecordState::Open,
            body: Arc::new(crate::store::Body::new((), None, None, None)),
        };
        n.notify_with(id, record);
        n.notify(id);
        n.notify_all();
        assert!(s.changed().await.is_some_and(|r| r.id == id));
    }

    #[tokio::test]
    async fn wake_and_cleanup() {
        let n = Notifier::<()>::new();
        let id = PendingId::random();
        assert!(!n.has_waiters());
        let mut a = n.subscribe(id);
        let b = n.subscribe(id);
        assert_eq!(n.watched(), 1);
        assert!(n.is_watched(id));
        n.notify(id);
        assert!(a.changed().await.is_none());
        drop(a);
        assert_eq!(n.watched(), 1);
        drop(b);
        assert_eq!(n.watched(), 0);
        n.notify(id);
    }
}
