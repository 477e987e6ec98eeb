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
    rx: watch::Receiver<Event<T>>,
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
            rx,
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

    /// Wakes every subscriber of `id`; they re-read the record from the store.
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
            tx.send_replace(event);
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
            tx.send_replace(None);
        }
    }

    /// How many ids have at least one subscriber.
    #[must_use]
    pub fn watched(&self) -> usize {
        self.inner.watched.load(Ordering::SeqCst)
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
        if self.rx.changed().await.is_err() {
            // The sender lives as long as any receiver of its entry; never spin.
            std::future::pending::<()>().await;
        }
        self.rx.borrow_and_update().clone()
    }

    /// The record of a change that happened since the last one seen, without waiting; `None`
    /// when nothing changed or the change carried no record.
    pub fn try_changed(&mut self) -> Option<Arc<Record<T>>> {
        match self.rx.has_changed() {
            Ok(true) => self.rx.borrow_and_update().clone(),
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
            rx,
            registry: None,
            _hold: Some(tx),
        }
    }
}

impl<T> Drop for Subscription<T> {
    fn drop(&mut self) {
        if let Some(reg) = &self.registry {
            let mut map = reg.inner.map.lock().unwrap_or_else(PoisonError::into_inner);
            // This receiver is still alive, so a count of one means it is the last.
            if map.get(&self.id).is_some_and(|tx| tx.receiver_count() <= 1) {
                map.remove(&self.id);
                reg.inner.watched.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
