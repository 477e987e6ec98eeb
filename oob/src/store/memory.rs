//! [`MemoryStore`]: an in-process store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::{
    Body, CreateError, Created, Dedup, Finished, Limits, NewRecord, Notifier, Record, RecordState,
    Scope, Store, StoreError, Subscription, TransitionError,
};
use crate::capability::NamespaceToken;
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
pub struct MemoryStore<T> {
    shared: Arc<Shared<T>>,
}

impl<T> std::fmt::Debug for MemoryStore<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Records hold payloads and namespaces: never printed.
        f.debug_struct("MemoryStore")
            .field("retention", &self.shared.retention)
            .finish_non_exhaustive()
    }
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

/// The 32 bits of an id (122 random bits) that place it in the id index: the two halves
/// folded, so the version and variant bits are mixed with random ones.
fn tag(id: &PendingId) -> u32 {
    let v = id.as_uuid().as_u128();
    #[allow(clippy::cast_possible_truncation)]
    let (lo, hi) = (v as u64, (v >> 64) as u64);
    #[allow(clippy::cast_possible_truncation)]
    let t = ((lo ^ hi) >> 32) as u32;
    t
}

/// Id → slot: an open-addressing table of 8-byte cells (`tag << 32 | slot + 1`, 0 for
/// empty), probed linearly from the tag's home cell. A cell only names a candidate slot; the
/// entry in that slot confirms the whole id, so ids whose tags collide simply share a probe
/// run. A lookup reads one cache line of cells in the common case (a `HashMap` reads its
/// control bytes and its bucket, two lines), and a cell takes 8 bytes. Removal shifts the
/// run back (no tombstones); the table doubles at 3/4 full.
#[derive(Debug, Default)]
struct IdIndex {
    cells: Vec<u64>,
    len: usize,
}

impl IdIndex {
    fn mask(&self) -> usize {
        self.cells.len().wrapping_sub(1)
    }

    fn home(&self, tag: u32) -> usize {
        tag as usize & self.mask()
    }

    fn cell(tag: u32, slot: u32) -> u64 {
        (u64::from(tag) << 32) | (u64::from(slot) + 1)
    }

    fn get<T>(&self, id: &PendingId, slots: &[Option<Entry<T>>]) -> Option<u32> {
        if self.cells.is_empty() {
            return None;
        }
        let t = tag(id);
        let mut i = self.home(t);
        loop {
            let c = self.cells[i];
            if c == 0 {
                return None;
            }
            #[allow(clippy::cast_possible_truncation)]
            if (c >> 32) as u32 == t {
                let s = (c as u32).wrapping_sub(1);
                if matches!(slots.get(s as usize), Some(Some(e)) if e.id == *id) {
                    return Some(s);
                }
            }
            i = (i + 1) & self.mask();
        }
    }

    /// Adds an id that is not in the index.
    fn insert(&mut self, id: PendingId, slot: u32) {
        if (self.len + 1) * 4 > self.cells.len() * 3 {
            self.grow();
        }
        self.place(Self::cell(tag(&id), slot));
        self.len += 1;
    }

    fn place(&mut self, cell: u64) {
        #[allow(clippy::cast_possible_truncation)]
        let mut i = self.home((cell >> 32) as u32);
        while self.cells[i] != 0 {
            i = (i + 1) & self.mask();
        }
        self.cells[i] = cell;
    }

    fn grow(&mut self) {
        let size = (self.cells.len() * 2).max(16);
        let old = std::mem::replace(&mut self.cells, vec![0; size]);
        for c in old.into_iter().filter(|&c| c != 0) {
            self.place(c);
        }
    }

    /// Removes the id that lives in `slot`.
    fn remove(&mut self, id: &PendingId, slot: u32) {
        if self.cells.is_empty() {
            return;
        }
        let mask = self.mask();
        let want = Self::cell(tag(id), slot);
        let mut hole = self.home(tag(id));
        loop {
            match self.cells[hole] {
                0 => return,
                c if c == want => break,
                _ => hole = (hole + 1) & mask,
            }
        }
        // Shift back every later cell of the run that may live in the hole (its home is
        // not cyclically between the hole and where it is).
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let c = self.cells[j];
            if c == 0 {
                break;
            }
            #[allow(clippy::cast_possible_truncation)]
            let home = self.home((c >> 32) as u32);
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.cells[hole] = c;
                hole = j;
            }
        }
        self.cells[hole] = 0;
        self.len -= 1;
    }

    fn len(&self) -> usize {
        self.len
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
        if empty && let Some(Some(idx)) = self.ns_slots.get_mut(n as usize).map(Option::take) {
            self.ns_index.remove(&idx.namespace);
            self.ns_free.push(n);
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
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn create(
        &self,
        new_record: &NewRecord<T>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> Result<Created<T>, CreateError> {
        let record = new_record.record();
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
        if self.shared.retention.is_zero()
            && let Some(slot) = inner.slot(&record.id)
            && inner.entry(slot).state() != OPEN
        {
            drop(inner.remove(slot));
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
        token: &NamespaceToken<'_>,
        now: Timestamp,
    ) -> Result<Vec<Record<T>>, StoreError> {
        let namespace = token.namespace();
        let now_ms = now.as_millis();
        let inner = self.lock();
        let Some(idx) = inner.ns_lookup(namespace) else {
            return Ok(Vec::new());
        };
        // First read every entry and its body's count with plain loads, which the CPU
        // overlaps: the count increments of the second pass are locked instructions, which
        // would otherwise take the (scattered) cache misses one at a time.
        let warm = idx.slots.iter().fold(0usize, |acc, &s| {
            let e = inner.entry(s);
            acc ^ Arc::strong_count(&e.body) ^ (e.expires as usize)
        });
        std::hint::black_box(warm);
        Ok(idx
            .slots
            .iter()
            .map(|&s| inner.entry(s))
            .filter(|e| e.is_open_at(now_ms))
            .map(|e| e.to_record(&idx.namespace, now_ms))
            .collect())
    }

    async fn clear_namespace(&self, token: &NamespaceToken<'_>) -> Result<usize, StoreError> {
        let namespace = token.namespace();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn ready<F: Future>(f: F) -> F::Output {
        match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("memory store future suspended"),
        }
    }

    /// Three v4 ids with equal tags (the same bit flipped in both halves, away from the
    /// version and variant bits).
    fn colliding() -> [PendingId; 3] {
        let base = PendingId::random().as_uuid().as_u128();
        [0u128, 1 << 40, 1 << 41].map(|flip| {
            let v = base ^ flip ^ (flip << 64);
            PendingId::from_bytes(v.to_be_bytes()).expect("v4")
        })
    }

    fn record(id: PendingId, now: Timestamp) -> Record<u32> {
        Record {
            id,
            namespace: Namespace::new("a").expect("namespace"),
            created_at: now,
            expires_at: now.saturating_add(Duration::from_secs(60)),
            state: RecordState::Open,
            body: Arc::new(Body::new(7, None, None, None)),
        }
    }

    /// An id whose tag's low bits (its home in a table of up to 16 cells) are `home`.
    fn id_at_home(home: u32) -> PendingId {
        let v = PendingId::random().as_uuid().as_u128();
        let shift = u128::from((tag_of(v) ^ home) & 0xf) << 32;
        PendingId::from_bytes((v ^ shift).to_be_bytes()).expect("v4")
    }

    fn tag_of(v: u128) -> u32 {
        tag(&PendingId::from_bytes(v.to_be_bytes()).expect("v4"))
    }

    /// Random inserts and removals of ids crowded into a few homes (long runs that wrap
    /// around the end of the table, and growth), checked against a plain map after every
    /// step.
    #[test]
    fn the_id_index_agrees_with_a_map_under_crowded_inserts_and_removals() {
        let now = Timestamp::from_millis(1_000_000);
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for round in 0..50 {
            let mut index = IdIndex::default();
            let mut slots: Vec<Option<Entry<u32>>> = Vec::new();
            let mut live: HashMap<PendingId, u32> = HashMap::new();
            let mut gone: Vec<PendingId> = Vec::new();
            for _ in 0..400 {
                let insert =
                    live.is_empty() || next() % 3 != 0 || (round % 2 == 0 && live.len() < 10);
                if insert {
                    #[allow(clippy::cast_possible_truncation)]
                    let id = id_at_home(13 + (next() % 5) as u32);
                    let slot = u32::try_from(slots.len()).expect("slot");
                    slots.push(Some(Entry::new(&record(id, now))));
                    index.insert(id, slot);
                    live.insert(id, slot);
                } else {
                    #[allow(clippy::cast_possible_truncation)]
                    let pick = (next() as usize) % live.len();
                    let (&id, &slot) = live.iter().nth(pick).expect("live id");
                    index.remove(&id, slot);
                    slots[slot as usize] = None;
                    live.remove(&id);
                    gone.push(id);
                }
                assert_eq!(index.len(), live.len());
                for (id, slot) in &live {
                    assert_eq!(index.get(id, &slots), Some(*slot));
                }
                for id in &gone {
                    assert_eq!(index.get(id, &slots), None);
                }
            }
        }
    }

    #[test]
    fn ids_whose_tags_collide_are_kept_apart_through_every_removal_order() {
        let ids = colliding();
        assert!(ids.iter().all(|id| tag(id) == tag(&ids[0])));
        assert_ne!(ids[0], ids[1]);
        let now = Timestamp::from_millis(1_000_000);
        for order in [[0, 1, 2], [1, 0, 2], [2, 1, 0], [1, 2, 0]] {
            let store = MemoryStore::<u32>::new().with_retention(Duration::ZERO);
            for id in ids {
                let new = NewRecord::new(record(id, now));
                ready(store.create(&new, Limits::default(), Dedup::Never, now)).expect("create");
            }
            for (done, &i) in order.iter().enumerate() {
                let r = ready(store.complete(ids[i], None, now, Wake::Now)).expect("complete");
                assert_eq!(r.id, ids[i]);
                for (k, id) in ids.iter().enumerate() {
                    let finished = order[..=done].contains(&k);
                    let got = ready(store.get(*id, now)).expect("get");
                    assert_eq!(
                        got.is_none(),
                        finished,
                        "order {order:?}, step {done}, id {k}"
                    );
                    if let Some(r) = got {
                        assert_eq!(r.id, *id);
                    }
                }
            }
            assert_eq!(store.lock().by_id.len(), 0);
        }
    }
}
