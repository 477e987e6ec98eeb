//! Time: [`Timestamp`] (milliseconds since the Unix epoch) and the [`Clock`] a manager reads.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A wall-clock instant in whole milliseconds since the Unix epoch, as stores persist it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Self = Self(0);

    /// A timestamp from milliseconds since the Unix epoch.
    #[must_use]
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }

    /// Milliseconds since the Unix epoch.
    #[must_use]
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Converts a [`SystemTime`] (times before the epoch become the epoch).
    #[must_use]
    pub fn from_system_time(t: SystemTime) -> Self {
        // Seconds and milliseconds separately: cheaper than `as_millis`, a 128-bit product.
        t.duration_since(UNIX_EPOCH).map_or(Self(0), |d| {
            Self(
                d.as_secs()
                    .saturating_mul(1_000)
                    .saturating_add(u64::from(d.subsec_millis())),
            )
        })
    }

    /// Converts to a [`SystemTime`].
    #[must_use]
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(self.0)
    }

    /// `self + d`, saturating.
    #[must_use]
    pub fn saturating_add(self, d: Duration) -> Self {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self(self.0.saturating_add(ms))
    }

    /// The time from `self` until `later`, zero if `later` is not after `self`.
    #[must_use]
    pub fn until(self, later: Timestamp) -> Duration {
        Duration::from_millis(later.0.saturating_sub(self.0))
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({}ms)", self.0)
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        Self::from_system_time(t)
    }
}

/// The source of "now" for a manager and its stores.
///
/// [`SystemClock`] in production (the default); [`CoarseClock`] for services that create
/// and complete at high rates and can accept expiry to within a millisecond or so;
/// [`TokioClock`] in tests that pause tokio's clock, so that expiry and tokio timers move
/// together.
pub trait Clock: Send + Sync + 'static {
    /// The current wall-clock time.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_system_time(SystemTime::now())
    }
}

/// The system's wall clock, read once per `resolution` by a background thread and shared:
/// reading it is one atomic load.
///
/// A read of the system clock costs 20 to 40 ns on x86 Linux and serialises the CPU
/// pipeline, and a create plus a complete reads it twice; with this clock the memory store's
/// hot paths read no clock at all (see the README's performance section). The price:
///
/// - one thread, named `oob-clock`, which wakes every `resolution` (1 ms by default) and
///   ends within one resolution after the last clone of the clock is dropped;
/// - times lag the system clock by up to one resolution, more if the process is starved of
///   CPU, so a pending may be completed that long after its deadline (timestamps have
///   millisecond precision anyway);
/// - it never goes backwards, even if the system clock is set back.
///
/// If the thread cannot be started, every read falls back to the system clock.
///
/// ```
/// use oob::time::{Clock, CoarseClock, SystemClock};
///
/// let clock = CoarseClock::new();
/// let (coarse, exact) = (clock.now(), SystemClock.now());
/// assert!(coarse <= exact);
/// ```
#[derive(Debug, Clone)]
pub struct CoarseClock {
    shared: Arc<Coarse>,
}

#[derive(Debug)]
struct Coarse {
    now_ms: AtomicU64,
    ticking: AtomicBool,
}

impl Coarse {
    fn tick(&self) {
        self.now_ms
            .fetch_max(SystemClock.now().as_millis(), Ordering::Relaxed);
    }
}

impl CoarseClock {
    /// The default resolution: 1 ms, the precision of a [`Timestamp`].
    pub const DEFAULT_RESOLUTION: Duration = Duration::from_millis(1);

    /// A coarse clock refreshed every millisecond.
    #[must_use]
    pub fn new() -> Self {
        Self::with_resolution(Self::DEFAULT_RESOLUTION)
    }

    /// A coarse clock refreshed every `resolution` (at least 1 ms). A coarser resolution
    /// wakes the thread less often and lets times lag further behind.
    #[must_use]
    pub fn with_resolution(resolution: Duration) -> Self {
        let resolution = resolution.max(Self::DEFAULT_RESOLUTION);
        let shared = Arc::new(Coarse {
            now_ms: AtomicU64::new(SystemClock.now().as_millis()),
            ticking: AtomicBool::new(true),
        });
        let weak = Arc::downgrade(&shared);
        let started = std::thread::Builder::new()
            .name("oob-clock".into())
            .spawn(move || ticker(&weak, resolution));
        if started.is_err() {
            shared.ticking.store(false, Ordering::Relaxed);
        }
        Self { shared }
    }

    /// Whether a background thread keeps this clock (`false` only if it could not be
    /// started: then every read is a read of the system clock).
    #[must_use]
    pub fn is_ticking(&self) -> bool {
        self.shared.ticking.load(Ordering::Relaxed)
    }
}

/// The thread behind a [`CoarseClock`]: ticks until the last clone of the clock is gone.
fn ticker(clock: &Weak<Coarse>, resolution: Duration) {
    #[cfg(test)]
    let _live = tests::LiveTicker::new();
    loop {
        std::thread::sleep(resolution);
        match clock.upgrade() {
            Some(c) => c.tick(),
            None => return,
        }
    }
}

impl Default for CoarseClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for CoarseClock {
    fn now(&self) -> Timestamp {
        if self.shared.ticking.load(Ordering::Relaxed) {
            Timestamp(self.shared.now_ms.load(Ordering::Relaxed))
        } else {
            SystemClock.now()
        }
    }
}

/// A clock that follows tokio's clock (which tests can pause and advance), starting at the
/// system time when it is created.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    start_wall: Timestamp,
    start: tokio::time::Instant,
}

impl TokioClock {
    /// A clock that reads the system time now and then advances with tokio's clock.
    #[must_use]
    pub fn new() -> Self {
        Self {
            start_wall: SystemClock.now(),
            start: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> Timestamp {
        self.start_wall.saturating_add(self.start.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Ticker threads alive (only `CoarseClock`'s unit test starts any in this binary).
    static LIVE: AtomicUsize = AtomicUsize::new(0);

    pub(super) struct LiveTicker;

    impl LiveTicker {
        pub(super) fn new() -> Self {
            LIVE.fetch_add(1, Ordering::SeqCst);
            Self
        }
    }

    impl Drop for LiveTicker {
        fn drop(&mut self) {
            LIVE.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Polls `cond` every millisecond for up to ten seconds (a liveness bound, not a timing).
    fn eventually(cond: impl Fn() -> bool) -> bool {
        (0..10_000).any(|_| {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(1));
            false
        })
    }

    #[test]
    fn coarse_clock_follows_the_system_clock_and_its_thread_ends_with_it() {
        let clock = CoarseClock::new();
        assert!(clock.is_ticking());
        assert!(eventually(|| LIVE.load(Ordering::SeqCst) == 1));
        // It lags the system clock, never leads it, and it advances.
        let first = clock.now();
        assert!(first <= SystemClock.now());
        let later = SystemClock.now().saturating_add(Duration::from_millis(5));
        assert!(eventually(|| clock.now() >= later));
        // It never goes backwards, whatever the system clock does.
        let ahead = clock.now().as_millis() + 3_600_000;
        clock.shared.now_ms.store(ahead, Ordering::Relaxed);
        clock.shared.tick();
        assert_eq!(clock.now().as_millis(), ahead);
        // Clones share one thread, which ends when the last clone goes.
        let copy = clock.clone();
        drop(clock);
        assert_eq!(LIVE.load(Ordering::SeqCst), 1);
        assert!(copy.now().as_millis() >= ahead);
        drop(copy);
        assert!(eventually(|| LIVE.load(Ordering::SeqCst) == 0));
    }

    #[test]
    fn conversions() {
        let t = Timestamp::from_millis(1_500);
        assert_eq!(
            t.to_system_time(),
            UNIX_EPOCH + Duration::from_millis(1_500)
        );
        assert_eq!(Timestamp::from_system_time(t.to_system_time()), t);
        assert_eq!(t.saturating_add(Duration::from_secs(1)).as_millis(), 2_500);
        assert_eq!(t.until(Timestamp::from_millis(1_000)), Duration::ZERO);
        assert_eq!(
            Timestamp::from_millis(u64::MAX).saturating_add(Duration::from_secs(1)),
            Timestamp::from_millis(u64::MAX)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let c = TokioClock::new();
        let a = c.now();
        tokio::time::sleep(Duration::from_secs(60)).await;
        assert_eq!(a.until(c.now()), Duration::from_secs(60));
    }
}
