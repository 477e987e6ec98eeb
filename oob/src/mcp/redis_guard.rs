//! [`RedisStateGuard`]: a [`StateGuard`] shared by every replica that talks to one Redis, a
//! standalone server or a Redis Cluster (features `mcp` and `redis`).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::ConnectionManager;

use super::guard::{GuardError, StateGuard};
use crate::store::redis::RedisStoreError;
use crate::store::redis::conn::Conn;
use crate::store::{RedisTarget, StoreError};

/// A [`StateGuard`] over Redis: consuming a nonce is one `SET <prefix><nonce> <token> NX
/// GET PXAT <expiry + grace>`, atomic on the server, so of any number of replicas consuming
/// one nonce exactly one succeeds. The token is 16 random bytes drawn for each consume:
/// when the client sends the command again because its reply was lost (the cluster
/// connection retries after a dropped connection, a timeout or a failover), Redis answers
/// with the token the first attempt stored, and the consume is still the first use (`Ok`),
/// not a replay; any other stored value is [`GuardError::Replayed`]. Redis drops each key
/// when its state has expired, or, for a state consumed at or after its expiry (a retry that
/// opened it in time and waited for the browser step), when the consume was, plus
/// [`grace`](Self::with_grace). Memory is bounded by the server's `maxmemory`, not here:
/// there is no count to fill, so one caller using up states never refuses another's
/// retries (it only takes memory, about 100 bytes per state for the state's lifetime).
///
/// A failure of Redis is [`GuardError::Backend`]: the retry is refused (fails closed). Its
/// source is always a [`RedisStoreError`] (as for the Redis store and vault), whatever
/// failed (an invalid URL, connecting, or a consume):
/// [`Unavailable`](RedisStoreError::Unavailable) when Redis could not be reached, the
/// connection dropped or a reply timed out, [`Command`](RedisStoreError::Command) when the
/// URL was refused or Redis answered with an error; its own source is the `redis` error.
///
/// It connects to the same [`RedisTarget`]s as the Redis store and vault: one endpoint, or
/// a Redis Cluster ([`RedisTarget::cluster`]), where each key is set on the primary of its
/// slot (redirections followed, as the store does). Every consume is one key, so the prefix
/// needs no hash tag on a cluster; without one, the keys spread over every primary. Redis
/// replicates asynchronously: a key set on a primary that fails before a replica has it is
/// lost with it, and that state could be used once more after the failover, until it
/// expires.
///
/// `SET` with both `NX` and `GET` needs Redis 7.0 or later (an older server answers every
/// consume with an error, so the guard fails closed).
///
/// ```no_run
/// use oob::mcp::RedisStateGuard;
/// use oob::store::RedisTarget;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let nodes = ["redis://10.0.0.1:7000/", "redis://10.0.0.2:7000/"];
/// let guard = RedisStateGuard::connect(RedisTarget::cluster(nodes)?).await?;
/// # let _ = guard;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStateGuard {
    conn: Conn,
    prefix: String,
    grace: Duration,
}

impl fmt::Debug for RedisStateGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStateGuard")
            .field("cluster", &self.is_cluster())
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

    /// A guard on an existing connection to one server.
    #[must_use]
    pub fn new(conn: ConnectionManager) -> Self {
        Self::on(Conn::Single(conn))
    }

    fn on(conn: Conn) -> Self {
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
        Self::connect(client).await
    }

    /// A guard on `target`: a [`redis::Client`] (one server: 1 s to connect, 2 s per
    /// reply, no retries) or a [`RedisTarget::cluster`] (the same timeouts per attempt;
    /// redirections and a failover are retried, as for the store).
    ///
    /// # Errors
    /// When Redis cannot be reached.
    pub async fn connect(target: impl Into<RedisTarget>) -> Result<Self, GuardError> {
        let target = target.into();
        let conn = target
            .connect(Duration::from_secs(1), Duration::from_secs(2))
            .await
            .map_err(from_store)?;
        Ok(Self::on(conn))
    }

    /// Whether the guard is on a Redis Cluster.
    #[must_use]
    pub fn is_cluster(&self) -> bool {
        matches!(self.conn, Conn::Cluster(_))
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
        // A state consumed after its expiry (a retry that opened it in time, then waited for
        // the browser step) is kept for the grace after now, not dropped at once.
        let at = expires_at
            .max(SystemTime::now())
            .checked_add(self.grace)
            .unwrap_or(expires_at)
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .max(1);
        let token = uuid::Uuid::new_v4().into_bytes();
        let mut conn = self.conn.clone();
        let previous: Option<Vec<u8>> = redis::cmd("SET")
            .arg(format!("{}{nonce}", self.prefix))
            .arg(&token[..])
            .arg("NX")
            .arg("GET")
            .arg("PXAT")
            .arg(at)
            .query_async(&mut conn)
            .await
            .map_err(backend)?;
        outcome(previous.as_deref(), &token)
    }
}

/// What the reply to `SET key <token> NX GET` means: no previous value, the key was set now;
/// our own token, it was set by an earlier attempt of this same consume whose reply was lost
/// (the connection sent the command again); any other value, the nonce was used before.
fn outcome(previous: Option<&[u8]>, token: &[u8]) -> Result<(), GuardError> {
    match previous {
        None => Ok(()),
        Some(stored) if stored == token => Ok(()),
        Some(_) => Err(GuardError::Replayed),
    }
}

/// A `redis` failure, as the source the Redis store and vault give it.
fn backend(e: redis::RedisError) -> GuardError {
    GuardError::Backend(Box::new(RedisStoreError::of(e)))
}

/// A failure to connect: the [`RedisStoreError`] inside the [`StoreError`] (connecting only
/// fails with one), so every [`GuardError::Backend`] of this guard has the same source type.
fn from_store(e: StoreError) -> GuardError {
    match e {
        StoreError::Backend(inner) => GuardError::Backend(inner),
        other => GuardError::Backend(Box::new(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_previous_value_or_our_own_token_is_the_first_use() {
        let token = uuid::Uuid::new_v4().into_bytes();
        assert!(outcome(None, &token).is_ok());
        // The reply of a retried SET whose first attempt was applied.
        assert!(outcome(Some(&token), &token).is_ok());
    }

    #[test]
    fn any_other_stored_value_is_a_replay() {
        let token = uuid::Uuid::new_v4().into_bytes();
        let other = uuid::Uuid::new_v4().into_bytes();
        for stored in [&other[..], b"1", b"", &token[..15]] {
            assert!(matches!(
                outcome(Some(stored), &token),
                Err(GuardError::Replayed)
            ));
        }
    }

    #[test]
    fn every_backend_error_has_a_redis_store_error_source() {
        let redis =
            || redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        let errors = [
            backend(redis()),
            from_store(StoreError::Backend(Box::new(RedisStoreError::of(redis())))),
        ];
        for e in errors {
            let source = std::error::Error::source(&e).expect("a source");
            let r = source
                .downcast_ref::<RedisStoreError>()
                .expect("a RedisStoreError");
            assert!(r.is_unavailable());
        }
    }
}
