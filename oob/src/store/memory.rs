//! [`MemoryStore`]: an in-process store.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::{
    Body, CreateError, Created, Dedup, Finished, Limits, Notifier, Record, RecordState, Scope,
    Store, StoreError, Subscription, TransitionError,
};
use crate::id::PendingId;
use crate::namespace::{Namespace, PrehashedBuild};
use crate::state::CancelReason;
use crate::store::Wake;
use crate::time::Timestamp;

/// The default retention window for finished records.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(300);

/// How many slots [`MemoryStore::purge`](Store::purge) scans per lock acquisition.
const PURGE_CHUNK: usize = 4096;

/// An in-process [`Store`]: fast, bounded, and gone with the process.
///
/// Each record is stored once, in a slab indexed by id, with a namespace index of slot
/// numbers beside it (no second copy of any payload). Expiry is enforced on every read and
/// transition; finished and expired records stay readable for the retention window (default
/// [`DEFAULT_RETENTION`]) and are forgotten by [`purge`](Store::purge). Cloning the store
/// shares it.
///
/// ```
/// use std::time::Duration;
/// use oob::store::MemoryStore;
///
/// # #[derive(Clone)] struct Payload;
/// let store: MemoryStore<Payload> = MemoryStore::new().with_retention(Duration::from_secs(60));
/// assert_eq!(store.retention(), Duration::from_secs(60));
/// ```
#[derive(Debug)]
pub struct MemoryStore<T> {
    shared: Arc<Shared<T>>,
}

#[derive(Debug)]
struct Shared<T> {
    inner: Mutex<Inner<T>>,
    notifier: Notifier<T>,
    retention: Duration,
}

impl<T> Clone for MemoryStore<T> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Default for MemoryStore<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A hasher for 64-bit keys that are already uniformly random.
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

/// The 64-bit fold of an id (122 random bits): the key of the id index.
fn fold(id: &PendingId) -> u64 {
    let v = id.as_uuid().as_u128();
    #[allow(clippy::cast_possible_truncation)]
    let (lo, hi) = (v as u64, (v >> 64) as u64);
    lo ^ hi
}

/// Id → slot. Keyed by the 64-bit fold of the id (12 bytes a bucket instead of 20); the
/// slot's entry confirms the whole id, and the rare ids whose fold collides with another's
/// live in an exact overflow map.
#[derive(Debug, Default)]
struct IdIndex {
    primary: HashMap<u64, u32, BuildHasherDefault<IdHasher>>,
    overflow: HashMap<PendingId, u32>,
}

impl IdIndex {
    fn get<T>(&self, id: &PendingId, slots: &[Option<Entry<T>>]) -> Option<u32> {
        if let Some(&s) = self.primary.get(&fold(id)) {
            if matches!(slots.get(s as usize), Some(Some(e)) if e.id == *id) {
                return Some(s);
            }
        }
        if self.overflow.is_empty() {
            None
        } else {
            self.overflow.get(id).copied()
        }
    }

    /// Adds an id that is not in the index.
    fn insert(&mut self, id: PendingId, slot: u32) {
        match self.primary.entry(fold(&id)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(slot);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.overflow.insert(id, slot);
            }
        }
    }

    /// Removes the id that lives in `slot`.
    fn remove(&mut self, id: &PendingId, slot: u32) {
        let key = fold(id);
        if self.primary.get(&key) == Some(&slot) {
            self.primary.remove(&key);
            if !self.overflow.is_empty() {
                let promote = self
                    .overflow
                    .iter()
                    .find(|(other, _)| fold(other) == key)
                    .map(|(other, s)| (*other, *s));
                if let Some((other, s)) = promote {
                    self.overflow.remove(&other);
                    self.primary.insert(key, s);
                }
            }
        } else {
            self.overflow.remove(id);
        }
    }

    fn len(&self) -> usize {
        self.primary.len() + self.overflow.len()
    }
}

#[derive(Debug)]
struct Inner<T> {
    slots: Vec<Option<Entry<T>>>,
    free: Vec<u32>,
    by_id: IdIndex,
    /// Namespace → its index in `ns_slots`. Empty indexes are kept until the next purge, so
    /// a namespace that comes and goes is not re-hashed and re-allocated every time.
    ns_index: HashMap<Namespace, u32, PrehashedBuild>,
    ns_slots: Vec<Option<NsIndex>>,
    ns_free: Vec<u32>,
    open_total: usize,
    /// When `expire_all` last scanned the slab (it runs at most once a second).
    last_full_scan: u64,
}

#[derive(Debug)]
struct NsIndex {
    namespace: Namespace,
    slots: Vec<u32>,
    open: usize,
}

const OPEN: u8 = 0;
const COMPLETED: u8 = 1;
const CANCELLED: u8 = 2;
const DECLINED: u8 = 3;
const EXPIRED: u8 = 4;

/// The state lives in the top 3 bits of `Entry::finished`; the time (ms) below.
const STATE_SHIFT: u32 = 61;
const TIME_MASK: u64 = (1 << STATE_SHIFT) - 1;

#[derive(Debug)]
struct Entry<T> {
    id: PendingId,
    body: Arc<Body<T>>,
    created: u64,
    expires: u64,
    /// State (top 3 bits) and when it finished (ms, the rest).
    finished: u64,
    /// Index of the namespace in `ns_slots`.
    ns: u32,
    /// Position of this entry's slot in its namespace's `slots`.
    ns_pos: u32,
}

fn encode_state(state: RecordState) -> u64 {
    let (s, at) = match state {
        RecordState::Open => (OPEN, 0),
        RecordState::Completed { at } => (COMPLETED, at.as_millis()),
        RecordState::Cancelled {
            at,
            reason: CancelReason::Cancelled,
        } => (CANCELLED, at.as_millis()),
        RecordState::Cancelled {
            at,
            reason: CancelReason::Declined,
        } => (DECLINED, at.as_millis()),
        RecordState::Expired { at } => (EXPIRED, at.as_millis()),
    };
    pack(s, at)
}

fn pack(state: u8, at: u64) -> u64 {
    (u64::from(state) << STATE_SHIFT) | (at & TIME_MASK)
}

impl<T> Entry<T> {
    fn new(record: &Record<T>) -> Self {
        Self {
            id: record.id,
            body: record.body.clone(),
            created: record.created_at.as_millis(),
            expires: record.expires_at.as_millis(),
            finished: encode_state(record.state),
            ns: 0,
            ns_pos: 0,
        }
    }

    fn state(&self) -> u8 {
        #[allow(clippy::cast_possible_truncation)]
        let s = (self.finished >> STATE_SHIFT) as u8;
        s
    }

    fn finished_at(&self) -> u64 {
        self.finished & TIME_MASK
    }

    fn set_state(&mut self, state: u8, at: u64) {
        self.finished = pack(state, at);
    }

    fn is_open_at(&self, now: u64) -> bool {
        self.state() == OPEN && self.expires > now
    }

    fn record_state(&self, now: u64) -> RecordState {
        let at = Timestamp::from_millis(self.finished_at());
        match self.state() {
            OPEN if self.expires > now => RecordState::Open,
            OPEN | EXPIRED => RecordState::Expired {
                at: Timestamp::from_millis(self.expires),
            },
            COMPLETED => RecordState::Completed { at },
            CANCELLED => RecordState::Cancelled {
                at,
                reason: CancelReason::Cancelled,
            },
            _ => RecordState::Cancelled {
                at,
                reason: CancelReason::Declined,
            },
        }
    }

    fn purge_at(&self, retention: Duration) -> Timestamp {
        let base = match self.state() {
            OPEN | EXPIRED => self.expires,
            _ => self.finished_at(),
        };
        Timestamp::from_millis(base).saturating_add(retention)
    }

    fn to_record(&self, namespace: &Namespace, now: u64) -> Record<T> {
        Record {
            id: self.id,
            namespace: namespace.clone(),
            created_at: Timestamp::from_millis(self.created),
            expires_at: Timestamp::from_millis(self.expires),
            state: self.record_state(now),
            body: self.body.clone(),
        }
    }

    fn into_record(self, namespace: Namespace, now: u64) -> Record<T> {
        let state = self.record_state(now);
        Record {
            id: self.id,
            namespace,
            created_at: Timestamp::from_millis(self.created),
            expires_at: Timestamp::from_millis(self.expires),
            state,
            body: self.body,
        }
    }
}

impl<T> Inner<T> {
    fn slot(&self, id: &PendingId) -> Option<u32> {
        self.by_id.get(id, &self.slots)
    }

    fn entry(&self, slot: u32) -> &Entry<T> {
        match self.slots.get(slot as usize) {
            Some(Some(e)) => e,
            // The id and namespace indexes only ever point at occupied slots.
            _ => unreachable!("index points at an empty slot"),
        }
    }

    fn entry_mut(&mut self, slot: u32) -> &mut Entry<T> {
        match self.slots.get_mut(slot as usize) {
            Some(Some(e)) => e,
            _ => unreachable!("index points at an empty slot"),
        }
    }

    fn ns(&self, ns: u32) -> &NsIndex {
        match self.ns_slots.get(ns as usize) {
            Some(Some(n)) => n,
            _ => unreachable!("entry points at an empty namespace slot"),
        }
    }

    fn ns_mut(&mut self, ns: u32) -> &mut NsIndex {
        match self.ns_slots.get_mut(ns as usize) {
            Some(Some(n)) => n,
            _ => unreachable!("entry points at an empty namespace slot"),
        }
    }

    fn namespace_of(&self, e: &Entry<T>) -> &Namespace {
        &self.ns(e.ns).namespace
    }

    fn ns_lookup(&self, namespace: &Namespace) -> Option<&NsIndex> {
        self.ns_index.get(namespace).map(|&n| self.ns(n))
    }

    fn to_record(&self, slot: u32, now: u64) -> Record<T> {
        let e = self.entry(slot);
        e.to_record(self.namespace_of(e), now)
    }

    /// Marks an open entry as no longer open (finished or expired), keeping the counts right.
    fn close(&mut self, slot: u32, state: u8, at: u64) {
        let e = self.entry_mut(slot);
        debug_assert_eq!(e.state(), OPEN);
        e.set_state(state, at);
        let ns = e.ns;
        self.ns_mut(ns).open -= 1;
        self.open_total -= 1;
    }

    fn ns_for(&mut self, namespace: &Namespace) -> u32 {
        if let Some(&n) = self.ns_index.get(namespace) {
            return n;
        }
        let idx = NsIndex {
            namespace: namespace.clone(),
            slots: Vec::new(),
            open: 0,
        };
        let n = match self.ns_free.pop() {
            Some(n) => {
                self.ns_slots[n as usize] = Some(idx);
                n
            }
            None => {
                self.ns_slots.push(Some(idx));
                u32::try_from(self.ns_slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.ns_index.insert(namespace.clone(), n);
        n
    }

    fn insert_at(&mut self, n: u32, mut entry: Entry<T>) {
        let is_open = entry.state() == OPEN;
        let id = entry.id;
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(None);
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        let idx = self.ns_mut(n);
        entry.ns = n;
        entry.ns_pos = u32::try_from(idx.slots.len()).unwrap_or(u32::MAX);
        idx.slots.push(slot);
        if is_open {
            idx.open += 1;
            self.open_total += 1;
        }
        self.slots[slot as usize] = Some(entry);
        self.by_id.insert(id, slot);
    }

    /// Removes an entry from every index; returns it with its namespace.
    fn remove(&mut self, slot: u32) -> (Entry<T>, Namespace) {
        let Some(entry) = self.slots.get_mut(slot as usize).and_then(Option::take) else {
            unreachable!("removing an empty slot");
        };
        self.by_id.remove(&entry.id, slot);
        self.free.push(slot);
        let was_open = entry.state() == OPEN;
        if was_open {
            self.open_total -= 1;
        }
        let idx = self.ns_mut(entry.ns);
        if was_open {
            idx.open -= 1;
        }
        let pos = entry.ns_pos as usize;
        idx.slots.swap_remove(pos);
        let moved = idx.slots.get(pos).copied();
        let namespace = idx.namespace.clone();
        if let Some(m) = moved {
            self.entry_mut(m).ns_pos = entry.ns_pos;
        }
        (entry, namespace)
    }

    /// Drops the index of a namespace that has no entries left.
    fn drop_ns_if_empty(&mut self, n: u32) {
        let empty = matches!(self.ns_slots.get(n as usize), Some(Some(i)) if i.slots.is_empty());
        if empty {
            if let Some(Some(idx)) = self.ns_slots.get_mut(n as usize).map(Option::take) {
                self.ns_index.remove(&idx.namespace);
                self.ns_free.push(n);
            }
        }
    }

    /// Marks the expired open entries of a namespace as expired, so they stop counting.
    fn expire_namespace(&mut self, n: u32, now: u64) {
        let expired: Vec<u32> = self
            .ns(n)
            .slots
            .iter()
            .copied()
            .filter(|&s| {
                let e = self.entry(s);
                e.state() == OPEN && e.expires <= now
            })
            .collect();
        for s in expired {
            let at = self.entry(s).expires;
            self.close(s, EXPIRED, at);
        }
    }

    /// Marks every expired open entry as expired, so they stop counting. Scans the whole
    /// slab, so at most once a second: a storm of creates at the total bound must not turn
    /// into a storm of full scans.
    fn expire_all(&mut self, now: u64) {
        if now < self.last_full_scan.saturating_add(1_000) {
            return;
        }
        self.last_full_scan = now;
        let expired: Vec<u32> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e {
                Some(e) if e.state() == OPEN && e.expires <= now => u32::try_from(i).ok(),
                _ => None,
            })
            .collect();
        for s in expired {
            let at = self.entry(s).expires;
            self.close(s, EXPIRED, at);
        }
    }
}

impl<T> MemoryStore<T> {
    /// An empty store with the default retention window.
    #[must_use]
    pub fn new() -> Self {
        Self::with_options(DEFAULT_RETENTION)
    }

    fn with_options(retention: Duration) -> Self {
        Self {
            shared: Arc::new(Shared {
                inner: Mutex::new(Inner {
                    slots: Vec::new(),
                    free: Vec::new(),
                    by_id: IdIndex::default(),
                    ns_index: HashMap::default(),
                    ns_slots: Vec::new(),
                    ns_free: Vec::new(),
                    open_total: 0,
                    last_full_scan: 0,
                }),
                notifier: Notifier::new(),
                retention,
            }),
        }
    }

    /// The same store (empty) with another retention window for finished and expired
    /// records. Zero forgets a record as soon as it finishes (waiters still get its outcome).
    #[must_use]
    pub fn with_retention(self, retention: Duration) -> Self {
        Self::with_options(retention)
    }

    /// The retention window.
    #[must_use]
    pub fn retention(&self) -> Duration {
        self.shared.retention
    }

    /// How many records (open, finished or expired) the store holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    /// Whether the store holds no record.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many records are stored as open (including expired ones not yet noticed).
    #[must_use]
    pub fn open_count(&self) -> usize {
        self.lock().open_total
    }

    /// How many ids have waiters subscribed.
    #[must_use]
    pub fn watched(&self) -> usize {
        self.shared.notifier.watched()
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        self.shared
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn transition(
        &self,
        id: PendingId,
        to: u8,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        let now_ms = now.as_millis();
        let retention = self.shared.retention;
        let mut inner = self.lock();
        let slot = inner.slot(&id).ok_or(TransitionError::NotFound)?;
        let e = inner.entry(slot);
        if e.state() != OPEN {
            return Err(TransitionError::Finished(
                e.record_state(now_ms)
                    .finished()
                    .unwrap_or(Finished::Expired),
            ));
        }
        if e.expires <= now_ms {
            let at = e.expires;
            inner.close(slot, EXPIRED, at);
            drop(inner);
            self.shared.notifier.notify(id);
            return Err(TransitionError::Finished(Finished::Expired));
        }
        if expect.is_some_and(|ns| ns != inner.namespace_of(e)) {
            return Err(TransitionError::NamespaceMismatch);
        }
        // With zero retention the record goes at once, unless its waiters are woken later:
        // then `wake` removes it, so nobody in between finds it missing.
        let record = if retention.is_zero() && wake == Wake::Now {
            let (mut entry, namespace) = inner.remove(slot);
            entry.set_state(to, now_ms);
            entry.into_record(namespace, now_ms)
        } else {
            inner.close(slot, to, now_ms);
            inner.to_record(slot, now_ms)
        };
        // Notify before unlocking: a waiter that reads the store after this transition
        // finds either the record or this event, never neither.
        if wake == Wake::Now && self.shared.notifier.has_waiters() {
            self.shared.notifier.notify_with(id, record.clone());
        }
        drop(inner);
        Ok(record)
    }
}

impl<T> Store<T> for MemoryStore<T>
where
    T: Send + Sync + 'static,
{
    async fn create(
        &self,
        record: &Record<T>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> Result<Created<T>, CreateError> {
        let now_ms = now.as_millis();
        let mut inner = self.lock();
        if inner.slot(&record.id).is_some() {
            return Err(CreateError::DuplicateId);
        }
        let n = inner.ns_for(&record.namespace);
        if let Dedup::Join { decline_cooldown } = dedup {
            let mut declined: Option<u32> = None;
            for &s in &inner.ns(n).slots {
                let e = inner.entry(s);
                if e.body.alias() != record.body.alias()
                    || e.body.resource() != record.body.resource()
                {
                    continue;
                }
                if e.is_open_at(now_ms) {
                    return Ok(Created::Joined(inner.to_record(s, now_ms)));
                }
                let cooling =
                    Timestamp::from_millis(e.finished_at()).saturating_add(decline_cooldown);
                if e.state() == DECLINED
                    && cooling > now
                    && declined.is_none_or(|d| inner.entry(d).finished_at() < e.finished_at())
                {
                    declined = Some(s);
                }
            }
            if let Some(d) = declined {
                return Ok(Created::Declined(inner.to_record(d, now_ms)));
            }
        }
        if inner.ns(n).open >= limits.per_namespace {
            inner.expire_namespace(n, now_ms);
            if inner.ns(n).open >= limits.per_namespace {
                return Err(CreateError::Capacity(Scope::Namespace));
            }
        }
        if inner.open_total >= limits.total {
            inner.expire_all(now_ms);
            if inner.open_total >= limits.total {
                return Err(CreateError::Capacity(Scope::Total));
            }
        }
        inner.insert_at(n, Entry::new(record));
        Ok(Created::Inserted)
    }

    async fn put(&self, record: Record<T>) -> Result<(), StoreError> {
        let id = record.id;
        let mut inner = self.lock();
        if let Some(old) = inner.slot(&id) {
            let (entry, _) = inner.remove(old);
            inner.drop_ns_if_empty(entry.ns);
        }
        let n = inner.ns_for(&record.namespace);
        inner.insert_at(n, Entry::new(&record));
        drop(inner);
        self.shared.notifier.notify(id);
        Ok(())
    }

    async fn get(&self, id: PendingId, now: Timestamp) -> Result<Option<Record<T>>, StoreError> {
        let inner = self.lock();
        Ok(inner.slot(&id).map(|s| inner.to_record(s, now.as_millis())))
    }

    async fn complete(
        &self,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        self.transition(id, COMPLETED, expect, now, wake)
    }

    async fn wake(&self, record: &Record<T>) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if self.shared.retention.is_zero() {
            if let Some(slot) = inner.slot(&record.id) {
                if inner.entry(slot).state() != OPEN {
                    drop(inner.remove(slot));
                }
            }
        }
        if self.shared.notifier.has_waiters() {
            self.shared.notifier.notify_with(record.id, record.clone());
        }
        drop(inner);
        Ok(())
    }

    async fn cancel(
        &self,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> Result<Record<T>, TransitionError> {
        let to = match reason {
            CancelReason::Cancelled => CANCELLED,
            CancelReason::Declined => DECLINED,
        };
        self.transition(id, to, expect, now, Wake::Now)
    }

    async fn list_namespace(
        &self,
        namespace: &Namespace,
        now: Timestamp,
    ) -> Result<Vec<Record<T>>, StoreError> {
        let now_ms = now.as_millis();
        let inner = self.lock();
        Ok(match inner.ns_lookup(namespace) {
            Some(idx) => idx
                .slots
                .iter()
                .map(|&s| inner.entry(s))
                .filter(|e| e.is_open_at(now_ms))
                .map(|e| e.to_record(&idx.namespace, now_ms))
                .collect(),
            None => Vec::new(),
        })
    }

    async fn clear_namespace(&self, namespace: &Namespace) -> Result<usize, StoreError> {
        let mut inner = self.lock();
        let Some(&n) = inner.ns_index.get(namespace) else {
            return Ok(0);
        };
        let slots = inner.ns(n).slots.clone();
        let ids: Vec<PendingId> = slots.iter().map(|&s| inner.remove(s).0.id).collect();
        inner.drop_ns_if_empty(n);
        drop(inner);
        for id in &ids {
            self.shared.notifier.notify(*id);
        }
        Ok(ids.len())
    }

    async fn purge(&self, now: Timestamp) -> Result<usize, StoreError> {
        let retention = self.shared.retention;
        let mut purged = Vec::new();
        let mut start = 0usize;
        loop {
            let done = {
                let mut inner = self.lock();
                let end = (start + PURGE_CHUNK).min(inner.slots.len());
                for i in start..end {
                    let due = matches!(&inner.slots[i], Some(e) if e.purge_at(retention) <= now);
                    if due {
                        let slot = u32::try_from(i).unwrap_or(u32::MAX);
                        purged.push(inner.remove(slot).0.id);
                    }
                }
                start = end;
                if end >= inner.slots.len() {
                    // Forget empty namespace indexes, and give back the tail of a slab that
                    // shrank (e.g. after a burst).
                    for n in 0..inner.ns_slots.len() {
                        inner.drop_ns_if_empty(u32::try_from(n).unwrap_or(u32::MAX));
                    }
                    while matches!(inner.slots.last(), Some(None)) {
                        inner.slots.pop();
                    }
                    let len = inner.slots.len();
                    inner.free.retain(|&s| (s as usize) < len);
                    true
                } else {
                    false
                }
            };
            if done {
                break;
            }
            tokio::task::yield_now().await;
        }
        for id in &purged {
            self.shared.notifier.notify(*id);
        }
        Ok(purged.len())
    }

    async fn subscribe(&self, id: PendingId) -> Result<Subscription<T>, StoreError> {
        Ok(self.shared.notifier.subscribe(id))
    }
}
