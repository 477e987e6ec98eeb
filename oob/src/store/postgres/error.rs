//! [`PgError`]: why a Postgres operation failed, carried as the source of a
//! [`StoreError`](crate::store::StoreError) or [`VaultError`](crate::vault::VaultError).

use crate::store::StoreError;
use crate::vault::VaultError;

/// Why a Postgres operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PgError {
    /// Postgres could not be reached, the connection dropped, the pool timed out, or the
    /// server is shutting down or starting up.
    #[error("postgres is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// Postgres answered with an error (or a reply this library cannot use).
    #[error("postgres query failed")]
    Query(#[source] sqlx::Error),
    /// The schema was written by a newer version of this library.
    #[error("postgres schema version {found} is newer than this build's")]
    SchemaTooNew {
        /// The version found.
        found: i32,
    },
    /// The schema is missing or older than this build's: call `migrate()` first.
    #[error("postgres schema is not migrated (call migrate() at start-up)")]
    NotMigrated(#[source] sqlx::Error),
    /// A stored value is malformed.
    #[error("malformed stored {0}")]
    Malformed(&'static str),
    /// A statement that ran several calls at once (see the store's group commit) failed
    /// in a way that leaves its outcome unknown (the connection broke while it ran, or its
    /// answer could not be read); every call it ran gets this, sharing the one cause.
    #[error("a batched postgres statement failed; it may or may not have been applied")]
    Batch {
        /// Whether the cause is a connectivity failure (see [`is_unavailable`](Self::is_unavailable)).
        unavailable: bool,
        /// The cause.
        #[source]
        source: std::sync::Arc<sqlx::Error>,
    },
    /// The store's batching task stopped (the runtime it was built on shut down) while it
    /// held this call, which may or may not have been applied.
    #[error("the postgres store's batching task stopped with the call in flight")]
    BatchStopped,
    /// The store or vault was built outside a Tokio runtime (its listener needs one).
    #[error("a postgres store must be built inside a tokio runtime")]
    NoRuntime,
}

impl PgError {
    /// Whether this is a connectivity failure (as opposed to an error Postgres answered).
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Unavailable(_)
                | Self::Batch {
                    unavailable: true,
                    ..
                }
        )
    }

    /// Classifies a sqlx error.
    pub(crate) fn from_sqlx(e: sqlx::Error) -> Self {
        if Self::unavailable(&e) {
            return Self::Unavailable(e);
        }
        match &e {
            sqlx::Error::Database(db)
                if matches!(
                    db.code().as_deref(),
                    // undefined_table, undefined_function, invalid_schema_name.
                    Some("42P01" | "42883" | "3F000")
                ) =>
            {
                Self::NotMigrated(e)
            }
            _ => Self::Query(e),
        }
    }

    /// Whether a sqlx error is a connectivity failure.
    pub(crate) fn unavailable(e: &sqlx::Error) -> bool {
        match e {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => true,
            // connection_exception (08…), admin/crash shutdown, cannot_connect_now.
            sqlx::Error::Database(db) => db
                .code()
                .as_deref()
                .is_some_and(|c| c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03")),
            _ => false,
        }
    }

    /// A store error shared by every call of a batch (see [`PgError::Batch`]).
    pub(crate) fn batch(e: &std::sync::Arc<sqlx::Error>) -> StoreError {
        StoreError::Backend(Box::new(Self::Batch {
            unavailable: Self::unavailable(e),
            source: e.clone(),
        }))
    }

    /// A store error from a sqlx error.
    pub(crate) fn store(e: sqlx::Error) -> StoreError {
        StoreError::Backend(Box::new(Self::from_sqlx(e)))
    }

    /// A vault error from a sqlx error.
    pub(crate) fn vault(e: sqlx::Error) -> VaultError {
        VaultError::Backend(Box::new(Self::from_sqlx(e)))
    }

    /// A decode error for a malformed column.
    pub(crate) fn malformed(what: &'static str) -> StoreError {
        StoreError::Decode(Box::new(Self::Malformed(what)))
    }
}
