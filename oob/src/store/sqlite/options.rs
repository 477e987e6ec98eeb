//! [`SqliteOptions`]: how a database is opened.

use std::time::Duration;

/// How hard SQLite works to make a commit survive a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Synchronous {
    /// `synchronous=NORMAL`: commits survive a process crash; the last ones before a power
    /// loss or OS crash may be lost (never corrupting the database). The default.
    #[default]
    Normal,
    /// `synchronous=FULL`: the WAL is fsynced at every commit; commits survive power loss.
    Full,
}

/// Options for [`SqliteStore::open_with`](super::SqliteStore::open_with): `SqliteOptions::default().synchronous(..)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SqliteOptions {
    /// Durability of commits.
    pub synchronous: Synchronous,
    /// How long a write waits for the write lock held by another connection (another
    /// process on the same file) before failing. Reads do not need that lock: a read
    /// batched with writes waits as long, then answers. At most `i32::MAX` ms (about 24.8
    /// days, SQLite's limit): a longer timeout is that.
    pub busy_timeout: Duration,
}

impl SqliteOptions {
    /// Durability of commits (default [`Synchronous::Normal`]).
    #[must_use]
    pub fn synchronous(mut self, synchronous: Synchronous) -> Self {
        self.synchronous = synchronous;
        self
    }

    /// How long a write waits for another connection's write lock (default 5 s).
    #[must_use]
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            synchronous: Synchronous::Normal,
            busy_timeout: Duration::from_secs(5),
        }
    }
}
