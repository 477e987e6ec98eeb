//! Single use of a `requestState` on the server: a [`StateGuard`] remembers the
//! [nonce](super::OpenedState::nonce) of every state that was used until the state expires,
//! and lets each nonce be consumed once.
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
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

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
        /// The guard's capacity.
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
/// returns [`GuardError::Replayed`] until `expires_at` (after which the state itself is
/// refused as expired, so the nonce can be forgotten).
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
    /// Consumes `nonce`, remembering it until `expires_at`: `Ok` the first time only.
    fn consume(
        &self,
        nonce: &str,
        expires_at: SystemTime,
    ) -> impl Future<Output = Result<(), GuardError>> + Send;
}

#[cfg(feature = "rmcp")]
type BoxFuture<'a, O> = std::pin::Pin<Box<dyn Future<Output = O> + Send + 'a>>;

/// [`StateGuard`] behind a pointer (its method returns `impl Future`, so it is not
/// dyn-compatible itself).
#[cfg(feature = "rmcp")]
pub(crate) trait DynStateGuard: Send + Sync + 'static {
    fn consume_boxed<'a>(
        &'a self,
        nonce: &'a str,
        expires_at: SystemTime,
    ) -> BoxFuture<'a, Result<(), GuardError>>;
}

#[cfg(feature = "rmcp")]
impl<G: StateGuard> DynStateGuard for G {
    fn consume_boxed<'a>(
        &'a self,
        nonce: &'a str,
        expires_at: SystemTime,
    ) -> BoxFuture<'a, Result<(), GuardError>> {
        Box::pin(self.consume(nonce, expires_at))
    }
}

/// The in-process [`StateGuard`]: a map of the consumed nonces with their expiries, under a
/// mutex (held for a hash-map insert and the removal of expired entries, never across an
/// `.await`). Expired entries are dropped on every consume, oldest first, from a heap
/// ordered by expiry (amortized O(log n) per call); at most
/// [`capacity`](Self::with_capacity) unexpired entries are kept, beyond which consume fails
/// with [`GuardError::Full`].
///
/// Only for a single process: see [`StateGuard`] for several replicas.
#[derive(Debug)]
pub struct MemoryStateGuard {
    inner: Mutex<Inner>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Inner {
    used: HashMap<Box<str>, SystemTime>,
    by_expiry: BinaryHeap<Reverse<(SystemTime, Box<str>)>>,
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

    /// An empty guard with the [default capacity](Self::DEFAULT_CAPACITY).
    #[must_use]
    pub fn new() -> Self {
        Self::with_capacity(Self::DEFAULT_CAPACITY)
    }

    /// An empty guard remembering at most `capacity` unexpired states.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity,
        }
    }

    /// The most unexpired states remembered.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
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
    /// inserts `nonce` unless it is there. A state already expired at `now` is not
    /// remembered (it is refused as expired anyway) and consuming it succeeds.
    pub fn consume_at(
        &self,
        nonce: &str,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<(), GuardError> {
        let mut inner = self.lock();
        inner.prune(now);
        if inner.used.contains_key(nonce) {
            return Err(GuardError::Replayed);
        }
        if expires_at <= now {
            return Ok(());
        }
        if inner.used.len() >= self.capacity {
            return Err(GuardError::Full {
                capacity: self.capacity,
            });
        }
        let key: Box<str> = nonce.into();
        inner.used.insert(key.clone(), expires_at);
        inner.by_expiry.push(Reverse((expires_at, key)));
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update leaves the map and the heap consistent before it could panic (an
        // allocation failure aborts), so a poisoned lock holds usable data.
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
                self.used.remove(&nonce);
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
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use super::{GuardError, MemoryStateGuard, StateGuard};

    const MIN: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn first_consume_wins_and_the_second_is_a_replay() {
        let g = MemoryStateGuard::new();
        let exp = SystemTime::now() + MIN;
        g.consume("a", exp).await.unwrap();
        assert!(matches!(
            g.consume("a", exp).await,
            Err(GuardError::Replayed)
        ));
        // Another expiry does not make it a new state.
        assert!(matches!(
            g.consume("a", exp + MIN).await,
            Err(GuardError::Replayed)
        ));
        g.consume("b", exp).await.unwrap();
        assert_eq!(g.len(), 2);
        assert_eq!(
            GuardError::Replayed.to_string(),
            "the request state was already used"
        );
    }

    #[test]
    fn expired_entries_are_pruned_on_consume_and_on_demand() {
        let g = MemoryStateGuard::new();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        g.consume_at("short", t0 + MIN, t0).unwrap();
        g.consume_at("long", t0 + 10 * MIN, t0).unwrap();
        assert_eq!(g.len(), 2);
        // Until its expiry the nonce is remembered...
        let before = t0 + MIN - Duration::from_millis(1);
        assert!(matches!(
            g.consume_at("short", t0 + MIN, before),
            Err(GuardError::Replayed)
        ));
        // ...and at its expiry it is dropped by the next consume (of anything).
        g.consume_at("other", t0 + 2 * MIN, t0 + MIN).unwrap();
        assert_eq!(g.len(), 2, "short dropped, other added");
        assert_eq!(g.prune(t0 + 2 * MIN), 1);
        assert_eq!(g.len(), 1);
        assert_eq!(g.prune(t0 + 10 * MIN), 1);
        assert!(g.is_empty());
        // A state already expired is not remembered.
        g.consume_at("late", t0, t0 + MIN).unwrap();
        assert!(g.is_empty());
    }

    #[test]
    fn capacity_bounds_unexpired_entries_and_expired_ones_make_room() {
        let g = MemoryStateGuard::with_capacity(3);
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        for n in ["a", "b", "c"] {
            g.consume_at(n, t0 + MIN, t0).unwrap();
        }
        let err = g.consume_at("d", t0 + MIN, t0).unwrap_err();
        assert!(matches!(err, GuardError::Full { capacity: 3 }), "{err:?}");
        assert!(err.to_string().contains('3'));
        // A full guard still recognizes replays rather than reporting it is full.
        assert!(matches!(
            g.consume_at("a", t0 + MIN, t0),
            Err(GuardError::Replayed)
        ));
        // Once they expire, there is room again.
        g.consume_at("d", t0 + 2 * MIN, t0 + MIN).unwrap();
        assert_eq!(g.len(), 1);
        assert_eq!(g.capacity(), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_consumers_of_one_nonce_exactly_one_wins() {
        let g = Arc::new(MemoryStateGuard::new());
        let exp = SystemTime::now() + MIN;
        for round in 0..50 {
            let nonce = format!("n{round}");
            let start = Arc::new(tokio::sync::Barrier::new(16));
            let tasks: Vec<_> = (0..16)
                .map(|_| {
                    let (g, start, nonce) = (g.clone(), start.clone(), nonce.clone());
                    tokio::spawn(async move {
                        start.wait().await;
                        g.consume(&nonce, exp).await
                    })
                })
                .collect();
            let mut ok = 0;
            for t in tasks {
                match t.await.unwrap() {
                    Ok(()) => ok += 1,
                    Err(GuardError::Replayed) => {}
                    Err(e) => panic!("{e:?}"),
                }
            }
            assert_eq!(ok, 1, "round {round}");
        }
        assert_eq!(g.len(), 50);
    }
}
