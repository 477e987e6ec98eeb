//! Time: [`Timestamp`] (milliseconds since the Unix epoch) and the [`Clock`] a manager reads.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A wall-clock instant in whole milliseconds since the Unix epoch, as stores persist it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Self = Self(0);

    /// The latest deadline a pending has: 2^53 − 1 ms after the epoch (about the year
    /// 287,000), the largest time every store keeps exactly (a Redis score and a Lua number
    /// are doubles; SQLite and Postgres keep a signed 64-bit integer). A later deadline,
    /// such as a TTL of `Duration::MAX`, is this one.
    pub const LATEST_DEADLINE: Self = Self((1 << 53) - 1);

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

    /// `self - d`, saturating at the epoch.
    #[must_use]
    pub fn saturating_sub(self, d: Duration) -> Self {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self(self.0.saturating_sub(ms))
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
/// [`SystemClock`] in production (the default); [`TokioClock`] in tests that pause tokio's
/// clock, so that expiry and tokio timers move together.
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
