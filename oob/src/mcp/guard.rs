//! Single use of a `requestState` on the server: a [`StateGuard`] remembers the
//! [nonce](super::OpenedState::nonce) of every state that was used until the state expires
//! (a state used after its expiry, by a retry that opened it in time, for a margin after the
//! use), and lets each nonce be consumed once.
//!
//! [`MemoryStateGuard`] is the in-process guard. It only protects one process: with several
//! replicas behind a load balancer, a state consumed on one replica could be replayed on
//! another, so the guard must be shared: `RedisStateGuard` (features `mcp` and `redis`), or
//! your own [`StateGuard`] over a shared store with an atomic "insert if absent, with
//! expiry" that a retried request cannot mistake for a replay (Redis
//! `SET key <token> NX GET PXAT <ms>` with a random token per use, where getting back your own
//! token means your first attempt landed; a SQL `INSERT` on a primary key, ...).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// Why a nonce could not be consumed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    /// The nonce was already consumed and its state has not expired yet: the `requestState`
    /// is being replayed. Reject the request.
    #[error("the request state was already used")]
    Replayed,
    /// The guard remembers as many unexpired nonces as it may; it cannot take another one
    /// without forgetting one that could still be replayed, so it refuses (fails closed).
    #[error("the request-state guard is full ({capacity} unexpired states); try again later")]
    Full {
        /// The bound that was reached: the guard's capacity, or the share of one namespace.
        capacity: usize,
    },
    /// The guard's backend failed; whether the nonce was used is unknown, so the request must
    /// be refused.
    #[error("request-state guard backend error")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// Remembers which `requestState`s were used, so that each is used once.
///
/// [`consume`](Self::consume) must be atomic: of any number of concurrent calls with one
/// nonce (on any replica sharing the guard), exactly one returns `Ok`, and every later call
/// returns [`GuardError::Replayed`] until `expires_at`, and, when the nonce is consumed at or
/// after `expires_at` (a retry opened its state in time and then waited for the browser
/// step), until a margin after the consume. oob refuses a state that expired before its
/// retry reaches the guard, so after that the nonce can be forgotten.
///
/// oob calls [`consume_for`](Self::consume_for), which also names the caller's namespace
/// (as an opaque keyed hash) so that a guard can bound the states of each namespace; its
/// default forgets the namespace and calls `consume`.
///
/// [`MemoryStateGuard`] only protects one process. With several replicas behind a load
/// balancer, a state consumed on one replica could be replayed on another, so the guard must
/// be shared: `RedisStateGuard` (features `mcp` and `redis`), or your own implementation
/// over a shared store with an atomic "insert if absent, with expiry" that a retried request
/// cannot mistake for a replay (Redis `SET key <token> NX GET PXAT <ms>` with a random token
/// per use, as `RedisStateGuard` does; a SQL `INSERT` on a primary key, ...).
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use oob::mcp::{GuardError, MemoryStateGuard, StateGuard};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let guard = MemoryStateGuard::new();
/// let expires_at = SystemTime::now() + Duration::from_secs(600);
/// assert!(guard.consume("nonce-1", expires_at).await.is_ok());
/// assert!(matches!(
///     guard.consume("nonce-1", expires_at).await,
///     Err(GuardError::Replayed)
/// ));
/// # }
/// ```
pub trait StateGuard: Send + Sync + 'static {
    /// Consumes `nonce`, remembering it until `expires_at` (or a margin after now, when that
    /// is later): `Ok` the first time only.
    fn consume(
        &self,
        nonce: &str,
        expires_at: SystemTime,
    ) -> impl Future<Output = Result<(), GuardError>> + Send;

    /// [`consume`](Self::consume) for a state of the namespace whose opaque keyed hash is
    /// `scope` ([`OpenedState::scope`](super::OpenedState::scope); never the namespace
    /// itself). A guard with a bound should bound each scope, so that one caller filling its
    /// share is refused ([`GuardError::Full`]) without refusing anyone else.
    fn consume_for(
        &self,
        scope: &str,
        nonce: &str,
        expires_at: SystemTime,
    ) -> impl Future<Output = Result<(), GuardError>> + Send {
        let _ = scope;
        self.consume(nonce, expires_at)
    }
}

#[cfg(feature = "rmcp")]
type BoxFuture<'a, O> = std::pin::Pin<Box<dyn Future<Output = O> + Send + 'a>>;

/// [`StateGuard`] behind a pointer (its method returns `impl Future`, so it is not
/// dyn-compatible itself).
#[cfg(feature = "rmcp")]
pub(crate) trait DynStateGuard: Send + Sync + 'static {
    fn consume_boxed<'a>(
        &'a self,
        scope: &'a str,
        nonce: &'a str,
        expires_at: SystemTime,
    ) -> BoxFuture<'a, Result<(), GuardError>>;
}

#[cfg(feature = "rmcp")]
impl<G: StateGuard> DynStateGuard for G {
    fn consume_boxed<'a>(
        &'a self,
        scope: &'a str,
        nonce: &'a str,
        expires_at: SystemTime,
    ) -> BoxFuture<'a, Result<(), GuardError>> {
        Box::pin(self.consume_for(scope, nonce, expires_at))
    }
}

/// The in-process [`StateGuard`]: a map of the consumed nonces with their expiries, under a
/// mutex (held for a hash-map insert and the removal of expired entries, never across an
/// `.await`). Expired entries are dropped on every consume, oldest first, from a heap
/// ordered by expiry (amortized O(log n) per call).
///
/// Two bounds, beyond which consume fails (closed) with [`GuardError::Full`]: at most
/// [`capacity`](Self::with_capacity) unexpired entries in all, and at most
/// [`with_namespace_capacity`](Self::with_namespace_capacity) for one namespace (the
/// [scope](StateGuard::consume_for) oob passes), so that one caller using up states (every
/// call without a state mints one) is refused alone and does not block everyone else's
/// retries. A nonce consumed at or after its state's expiry is kept for
/// [`LATE_MARGIN`](Self::LATE_MARGIN) after the consume.
///
/// Only for a single process: see [`StateGuard`] for several replicas. Its `Debug` shows
/// its bounds and how many states it remembers, never a nonce or a scope.
pub struct MemoryStateGuard {
    inner: Mutex<Inner>,
    capacity: usize,
    namespace_capacity: usize,
}

#[derive(Default)]
struct Inner {
    /// Nonce → (kept until, scope).
    used: HashMap<Box<str>, (SystemTime, Option<Arc<str>>)>,
    by_expiry: BinaryHeap<Reverse<(SystemTime, Box<str>)>>,
    /// How many entries of `used` each scope has.
    per_scope: HashMap<Arc<str>, usize>,
}

impl std::fmt::Debug for MemoryStateGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The nonces and scopes (a stable pseudonym of each namespace) stay out.
        // (`try_lock`: a `Debug` inside a held lock must not deadlock.)
        let remembered = self.inner.try_lock().ok().map(|i| i.used.len());
        f.debug_struct("MemoryStateGuard")
            .field("remembered", &remembered)
            .field("capacity", &self.capacity)
            .field("namespace_capacity", &self.namespace_capacity)
            .finish()
    }
}

impl Default for MemoryStateGuard {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStateGuard {
    /// How many unexpired states a guard remembers unless
    /// [`with_capacity`](Self::with_capacity) says otherwise: 100 000 (a few MB).
    pub const DEFAULT_CAPACITY: usize = 100_000;
    /// How many unexpired states of one namespace a guard remembers unless
    /// [`with_namespace_capacity`](Self::with_namespace_capacity) says otherwise: 1 000 (far more than
    /// one user's retries within a state's lifetime).
    pub const DEFAULT_NAMESPACE_CAPACITY: usize = 1_000;
    /// How long a nonce consumed at or after its state's expiry is kept: 30 seconds (a
    /// retry that opened the state in time is refused as expired from then on).
    pub const LATE_MARGIN: Duration = Duration::from_secs(30);

    /// An empty guard with the [default capacity](Self::DEFAULT_CAPACITY).
    #[must_use]
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// An empty guard remembering at most `capacity` unexpired states (and at most
    /// [`DEFAULT_NAMESPACE_CAPACITY`](Self::DEFAULT_NAMESPACE_CAPACITY) of one namespace).
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity,
            namespace_capacity: Self::DEFAULT_NAMESPACE_CAPACITY,
        }
    }

    /// Remembers at most `capacity` unexpired states of one namespace (consumes through
    /// [`StateGuard::consume_for`], as oob's tool glue does).
    #[must_use]
    pub fn with_namespace_capacity(mut self, capacity: usize) -> Self {
        self.namespace_capacity = capacity;
        self
    }

    /// The most unexpired states remembered.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The most unexpired states of one namespace remembered.
    #[must_use]
    pub fn namespace_capacity(&self) -> usize {
        self.namespace_capacity
    }

    /// How many states are remembered (expired ones included until the next consume or
    /// [`prune`](Self::prune)).
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().used.len()
    }

    /// Whether no state is remembered.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets the states that expired at `now`; how many.
    pub fn prune(&self, now: SystemTime) -> usize {
        self.lock().prune(now)
    }

    /// [`StateGuard::consume`] at the time `now`: drops the entries expired at `now`, then
    /// inserts `nonce` unless it is there, kept until `expires_at` or, when that is not
    /// after `now` (a retry that opened its state in time reaches the guard late), until
    /// `now` plus [`LATE_MARGIN`](Self::LATE_MARGIN).
    pub fn consume_at(
        &self,
        nonce: &str,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<(), GuardError> {
        self.consume_scoped(None, nonce, expires_at, now)
    }

    /// [`StateGuard::consume_for`] at the time `now`: [`consume_at`](Self::consume_at),
    /// bounded by the [namespace capacity](Self::with_namespace_capacity) for `scope`.
    pub fn consume_for_at(
        &self,
        scope: &str,
        nonce: &str,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<(), GuardError> {
        self.consume_scoped(Some(scope), nonce, expires_at, now)
    }

    fn consume_scoped(
        &self,
        scope: Option<&str>,
        nonce: &str,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<(), GuardError> {
        let mut inner = self.lock();
        inner.prune(now);
        if inner.used.contains_key(nonce) {
            return Err(GuardError::Replayed);
        }
        let until = if expires_at > now {
            expires_at
        } else {
            now.checked_add(Self::LATE_MARGIN).unwrap_or(now)
        };
        // The namespace's share first, then the whole guard (as the stores check their
        // bounds).
        let share = match scope {
            Some(scope) => {
                let (key, count) = match inner.per_scope.get_key_value(scope) {
                    Some((key, &count)) => (key.clone(), count),
                    None => (Arc::from(scope), 0),
                };
                if count >= self.namespace_capacity {
                    return Err(GuardError::Full {
                        capacity: self.namespace_capacity,
                    });
                }
                Some((key, count))
            }
            None => None,
        };
        if inner.used.len() >= self.capacity {
            return Err(GuardError::Full {
                capacity: self.capacity,
            });
        }
        let scope: Option<Arc<str>> = share.map(|(key, count)| {
            inner.per_scope.insert(key.clone(), count + 1);
            key
        });
        let key: Box<str> = nonce.into();
        inner.used.insert(key.clone(), (until, scope));
        inner.by_expiry.push(Reverse((until, key)));
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update leaves the map, the counts and the heap consistent before it could
        // panic (an allocation failure aborts), so a poisoned lock holds usable data.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    fn prune(&mut self, now: SystemTime) -> usize {
        let mut dropped = 0;
        while let Some(Reverse((at, _))) = self.by_expiry.peek() {
            if *at > now {
                break;
            }
            if let Some(Reverse((_, nonce))) = self.by_expiry.pop() {
                if let Some((_, Some(scope))) = self.used.remove(&nonce) {
                    match self.per_scope.get_mut(&scope) {
                        Some(count) if *count > 1 => *count -= 1,
                        _ => {
                            self.per_scope.remove(&scope);
                        }
                    }
                }
                dropped += 1;
            }
        }
        dropped
    }
}

impl StateGuard for MemoryStateGuard {
    async fn consume(&self, nonce: &str, expires_at: SystemTime) -> Result<(), GuardError> {
        self.consume_at(nonce, expires_at, SystemTime::now())
    }

    async fn consume_for(
        &self,
        scope: &str,
        nonce: &str,
        expires_at: SystemTime,
    ) -> Result<(), GuardError> {
        self.consume_for_at(scope, nonce, expires_at, SystemTime::now())
    }
}

#[cfg(test)]
#[path = "guard_tests.rs"]
mod tests;
