//! [`RedisStoreError`], and the mapping of `redis` errors onto [`StoreError`].

use redis::RedisError;

use crate::store::StoreError;

/// Why a Redis operation failed. Carried as the source of a [`StoreError`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// Redis could not be reached, the connection dropped or a reply timed out.
    #[error("redis is unavailable")]
    Unavailable(#[source] RedisError),
    /// Redis answered with an error.
    #[error("redis command failed")]
    Command(#[source] RedisError),
    /// Redis answered with something this store never asked for.
    #[error("unexpected reply from redis: {0}")]
    Reply(&'static str),
    /// A stored record is malformed.
    #[error("malformed stored record: {0}")]
    Malformed(&'static str),
    /// The write was applied, but fewer replicas than asked for acknowledged it in time
    /// (see [`RedisStoreBuilder::wait_for_replicas`](super::RedisStoreBuilder::wait_for_replicas)).
    #[error("{acked} of {wanted} replicas acknowledged the write in time")]
    NotReplicated {
        /// How many replicas acknowledged (the least over the primaries asked).
        acked: i64,
        /// How many were asked for.
        wanted: u32,
    },
    /// The store's configuration cannot work (e.g. a prefix without a hash tag on a
    /// cluster).
    #[error("invalid redis store configuration: {0}")]
    Config(&'static str),
}

impl RedisStoreError {
    /// Whether this is a connectivity failure (Redis down, connection lost, timeout), as
    /// opposed to an error answered by Redis.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }

    /// The error for a `redis` failure: [`Unavailable`](Self::Unavailable) for connectivity
    /// failures, [`Command`](Self::Command) otherwise.
    pub(crate) fn of(e: RedisError) -> Self {
        let unavailable = e.is_io_error()
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
            || e.is_unrecoverable_error()
            || e.is_cluster_error();
        if unavailable {
            Self::Unavailable(e)
        } else {
            Self::Command(e)
        }
    }
}

pub(crate) fn backend(e: RedisError) -> StoreError {
    StoreError::Backend(Box::new(RedisStoreError::of(e)))
}

pub(crate) fn reply(what: &'static str) -> StoreError {
    StoreError::Backend(Box::new(RedisStoreError::Reply(what)))
}

pub(crate) fn malformed(what: &'static str) -> StoreError {
    StoreError::Decode(Box::new(RedisStoreError::Malformed(what)))
}
