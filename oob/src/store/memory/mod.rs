//! [`MemoryStore`]: an in-process store.

mod count;
mod due;
mod ids;
mod keys;
mod partition;
mod purge;
mod table;
mod warm;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use self::table::Table;
use super::lifecycle;
use super::{
    CreateError, Created, Dedup, Limits, NewRecord, Notifier, Record, RecordState, Store,
    StoreError, Subscription, TransitionError, Wake,
};
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::state::CancelReason;
use crate::store::NamespaceScope;
use crate::time::Timestamp;

pub use super::lifecycle::DEFAULT_RETENTION;
pub use table::TableFull;

/// How many records [`MemoryStore::purge`](Store::purge) looks at per lock acquisition.
const PURGE_CHUNK: usize = 4096;

/// An in-process [`Store`]: fast, bounded, and gone with the process.
///
/// Each record is stored once, beside the other records of its namespace, with an id index
/// (no second copy of any payload); a namespace where creates ask to join also gets a dedup
/// index, so no operation reads more records than it returns. The
/// [lifecycle rules](super::lifecycle) run under one lock: expiry
/// is exact to the millisecond on every read, transition and capacity count; finished and
/// expired records stay readable for the retention window (default [`DEFAULT_RETENTION`])
/// and are forgotten by [`purge`](Store::purge). Cloning the store shares it.
///
/// ```
/// use std::time::Duration;
/// use oob::store::MemoryStore;
///
/// # #[derive(Clone)] struct Payload;
/// let store: MemoryStore<Payload> = MemoryStore::new().with_retention(Duration::from_secs(60));
/// assert_eq!(store.retention(), Duration::from_secs(60));
/// ```
pub struct MemoryStore<T> {
    shared: Arc<Shared<T>>,
    retention: Duration,
}

#[derive(Debug)]
struct Shared<T> {
    table: Mutex<Table<T>>,
    notifier: Notifier<T>,
}

/// Ends a purge (its token) when dropped.
struct Ended<'a, T>(&'a MemoryStore<T>, u64);

impl<T> Drop for Ended<'_, T> {
    fn drop(&mut self) {
        self.0.lock().purge_end(self.1);
    }
}

impl<T> std::fmt::Debug for MemoryStore<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Records hold payloads and namespaces: never printed.
        f.debug_struct("MemoryStore")
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

impl<T> Clone for MemoryStore<T> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            retention: self.retention,
        }
    }
}

impl<T> Default for MemoryStore<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> MemoryStore<T> {
    /// An empty store with the default retention window.
    #[must_use]
    pub fn new() -> Self {
        Self {
            shared: Arc::new(Shared {
                table: Mutex::new(Table::default()),
                notifier: Notifier::new(),
            }),
            retention: DEFAULT_RETENTION,
        }
    }

    /// The same store (its records kept, shared with its clones) with another retention
    /// window for finished and expired records. Zero forgets a record as soon as it finishes
    /// (waiters still get its outcome).
    #[must_use]
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// The retention window.
    #[must_use]
    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// How many records (open, finished or expired) the store holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the store holds no record.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many records are stored as open (including expired ones not yet noticed).
    #[must_use]
    pub fn open_count(&self) -> usize {
        self.lock().open_count()
    }

    /// How many ids have waiters subscribed.
    #[must_use]
    pub fn watched(&self) -> usize {
        self.shared.notifier.watched()
    }

    fn lock(&self) -> MutexGuard<'_, Table<T>> {
        self.shared
            .table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn transition(
        &self,
        id: PendingId,
        to: RecordState,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        let mut table = self.lock();
        let slot = table.slot(&id).ok_or(TransitionError::NotFound)?;
        let e = table.entry(slot);
        let state = e.state_at(now);
        let in_namespace = expect.is_none_or(|ns| ns == table.namespace_of(slot));
        if let Some(refused) = lifecycle::refusal(state, self.retention, now, in_namespace) {
            if matches!(refused, TransitionError::Finished(_)) && e.state.is_open() {
                // Past its deadline: close it now, so it stops counting.
                let at = e.expires_at;
                table.close(slot, RecordState::Expired { at });
                drop(table);
                self.shared.notifier.notify(id);
            }
            return Err(refused);
        }
        // With zero retention the record goes at once, unless its waiters are woken later:
        // then `wake` removes it, so nobody in between finds it missing.
        let record = if self.retention.is_zero() && wake == Wake::Now {
            table.remove(slot, now).with_state(to)
        } else {
            let at = table.close(slot, to);
            table.record(at, now)
        };
        // Notify before unlocking: a waiter that reads the store after this transition
        // finds either the record or this event, never neither.
        if wake == Wake::Now && self.shared.notifier.has_waiters() {
            self.shared.notifier.notify_with(id, record.clone());
        }
        drop(table);
        Ok(record)
    }
}

impl<T> Store<T> for MemoryStore<T>
where
    T: Send + Sync + 'static,
{
    fn decodes_before_writing(&self) -> bool {
        true
    }

    fn follows_refusal_order(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "memory"
    }

    fn retention(&self) -> std::time::Duration {
        Self::retention(self)
    }

    async fn create(
        &self,
        new_record: &NewRecord<T>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> Result<Created<T>, CreateError> {
        let record = new_record.record();
        let mut table = self.lock();
        if table.slot(&record.id).is_some() {
            return Err(CreateError::DuplicateId);
        }
        if let Dedup::Join { decline_cooldown } = dedup {
            if let Some(at) = table.joinable(&record.namespace, &record.body, now) {
                return Ok(Created::Joined(table.record(at, now)));
            }
            if let Some(at) = table.latest_decline(&record.namespace, &record.body) {
                let state = table.entry(at).state_at(now);
                if lifecycle::visible(state, self.retention, now)
                    && lifecycle::cooling(state, decline_cooldown, now).is_some()
                {
                    return Ok(Created::Declined(table.record(at, now)));
                }
            }
        }
        let in_namespace = table.open_in(&record.namespace, now, limits.per_namespace);
        let total = if in_namespace >= limits.per_namespace || limits.total == usize::MAX {
            0
        } else {
            table.open_total(now)
        };
        lifecycle::capacity(in_namespace, total, limits).map_err(CreateError::Capacity)?;
        table.insert(record).map_err(StoreError::backend)?;
        Ok(Created::Inserted)
    }

    async fn get(&self, id: PendingId, now: Timestamp) -> Result<Option<Record<T>>, StoreError> {
        let table = self.lock();
        Ok(table
            .get(&id, now)
            .filter(|r| lifecycle::visible(r.state, self.retention, now)))
    }

    async fn complete(
        &self,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        self.transition(id, RecordState::Completed { at: now }, expect, now, wake)
    }

    async fn wake(&self, record: &Record<T>) -> Result<(), StoreError> {
        let mut table = self.lock();
        if self.retention.is_zero()
            && let Some(slot) = table.slot(&record.id)
            && !table.entry(slot).state.is_open()
        {
            drop(table.remove(slot, Timestamp::EPOCH));
        }
        if self.shared.notifier.has_waiters() {
            self.shared.notifier.notify_with(record.id, record.clone());
        }
        drop(table);
        Ok(())
    }

    async fn cancel(
        &self,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> Result<Record<T>, TransitionError> {
        let to = RecordState::Cancelled { at: now, reason };
        self.transition(id, to, expect, now, Wake::Now)
    }

    async fn list_namespace(
        &self,
        scope: NamespaceScope<'_>,
        now: Timestamp,
    ) -> Result<Vec<Record<T>>, StoreError> {
        Ok(self.lock().list(scope.namespace(), now))
    }

    async fn clear_namespace(&self, scope: NamespaceScope<'_>) -> Result<usize, StoreError> {
        let ids = self.lock().clear(scope.namespace());
        for id in &ids {
            self.shared.notifier.notify(*id);
        }
        Ok(ids.len())
    }

    async fn purge(&self, now: Timestamp) -> Result<usize, StoreError> {
        let mut purged = Vec::new();
        let token = self.lock().purge_start(now, self.retention);
        // Whatever ends this purge (done, or the future dropped) ends its cursor.
        let end = Ended(self, token);
        loop {
            let done = {
                let mut table = self.lock();
                let done = table.purge_some(token, PURGE_CHUNK, &mut purged);
                if done {
                    table.shrink();
                }
                done
            };
            if done {
                break;
            }
            tokio::task::yield_now().await;
        }
        drop(end);
        for id in &purged {
            self.shared.notifier.notify(*id);
        }
        Ok(purged.len())
    }

    async fn subscribe(&self, id: PendingId) -> Result<Subscription<T>, StoreError> {
        Ok(self.shared.notifier.subscribe(id))
    }
}

#[cfg(test)]
mod due_tests;
#[cfg(test)]
mod index_tests;
#[cfg(test)]
mod purge_tests;
#[cfg(test)]
mod tests;
