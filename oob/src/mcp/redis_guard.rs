//! [`RedisStateGuard`]: a [`StateGuard`] shared by every replica that talks to one Redis
//! (features `mcp` and `redis`).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::guard::{GuardError, StateGuard};

/// A [`StateGuard`] over Redis: consuming a nonce is one `SET <prefix><nonce> 1 NX PXAT
/// <expiry + grace>`, atomic on the server, so of any number of replicas consuming one
/// nonce exactly one succeeds. Redis drops each key when its state has expired (plus
/// [`grace`](Self::with_grace)); memory is bounded by the server's `maxmemory`, not here.
/// A failure of Redis is [`GuardError::Backend`]: the retry is refused (fails closed).
///
/// `PXAT` needs Redis 6.2 or later.
#[derive(Clone)]
pub struct RedisStateGuard {
    conn: ConnectionManager,
    prefix: String,
    grace: Duration,
}

impl fmt::Debug for RedisStateGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStateGuard")
            .field("prefix", &self.prefix)
            .field("grace", &self.grace)
            .finish_non_exhaustive()
    }
}

impl RedisStateGuard {
    /// The key prefix unless [`with_prefix`](Self::with_prefix) says otherwise.
    pub const DEFAULT_PREFIX: &str = "oob:mcp:used:";
    /// How long a key outlives its state unless [`with_grace`](Self::with_grace) says
    /// otherwise: 30 seconds.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(30);

    /// A guard on an existing connection.
    #[must_use]
    pub fn new(conn: ConnectionManager) -> Self {
        Self {
            conn,
            prefix: Self::DEFAULT_PREFIX.to_owned(),
            grace: Self::DEFAULT_GRACE,
        }
    }

    /// A guard on the server at `url` (e.g. `redis://127.0.0.1:6379/`), failing fast (1 s
    /// to connect, 2 s per reply, no retries).
    ///
    /// # Errors
    /// When the URL is invalid or Redis cannot be reached.
    pub async fn open(url: &str) -> Result<Self, GuardError> {
        let client = redis::Client::open(url).map_err(backend)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(0);
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(backend)?;
        Ok(Self::new(conn))
    }

    /// The prefix of the keys (one key per used state).
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long a key outlives its state's expiry. Redis expires keys by its own clock and
    /// replicas check expiry by theirs: the grace covers the clock skew between them, so a
    /// replica whose clock is behind still finds the key while it accepts the state.
    #[must_use]
    pub fn with_grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// The key prefix.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The grace after a state's expiry.
    #[must_use]
    pub fn grace(&self) -> Duration {
        self.grace
    }
}

impl StateGuard for RedisStateGuard {
    async fn consume(&self, nonce: &str, expires_at: SystemTime) -> Result<(), GuardError> {
        let at = expires_at
            .checked_add(self.grace)
            .unwrap_or(expires_at)
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .max(1);
        let mut conn = self.conn.clone();
        let set: Option<String> = redis::cmd("SET")
            .arg(format!("{}{nonce}", self.prefix))
            .arg(1)
            .arg("NX")
            .arg("PXAT")
            .arg(at)
            .query_async(&mut conn)
            .await
            .map_err(backend)?;
        match set {
            Some(_) => Ok(()),
            None => Err(GuardError::Replayed),
        }
    }
}

fn backend(e: redis::RedisError) -> GuardError {
    GuardError::Backend(Box::new(e))
}
