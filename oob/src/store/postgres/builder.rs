//! [`PostgresStoreBuilder`]: the options of a [`PostgresStore`] and its start.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use sqlx::PgPool;

use super::batch::Batcher;
use super::error::PgError;
use super::listener::{Check, Events};
use super::schema::SchemaName;
use super::sender::Sender;
use super::transitions::Sql;
use super::{PostgresStore, Shared};
use crate::store::{Notifier, StoreError};

/// Options for a [`PostgresStore`]: `PostgresStore::builder(pool).schema("oob").build()`.
#[must_use]
pub struct PostgresStoreBuilder<T> {
    pub(super) pool: PgPool,
    pub(super) schema: String,
    pub(super) retention: Duration,
    pub(super) _payload: PhantomData<fn() -> T>,
}

/// Needs no `T: Debug`.
impl<T> std::fmt::Debug for PostgresStoreBuilder<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStoreBuilder")
            .field("pool", &self.pool)
            .field("schema", &self.schema)
            .field("retention", &self.retention)
            .finish_non_exhaustive()
    }
}

impl<T> PostgresStoreBuilder<T> {
    /// The Postgres schema the tables live in (default
    /// [`DEFAULT_SCHEMA`](super::DEFAULT_SCHEMA); see [`SchemaName`] for what is accepted).
    /// Stores on one schema share pendings.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// How long finished and expired records stay readable (default
    /// [`DEFAULT_RETENTION`](super::DEFAULT_RETENTION)). With zero, the call that completes,
    /// cancels or declines a record removes it (its change event carries the record, so
    /// waiters still learn the outcome), and an expired record is gone at its deadline.
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// Starts the store: checks the schema name and starts the listener (one connection
    /// made with the pool's options), the task that sends change events and the task that
    /// groups creates and transitions into shared statements (group commit), on the current
    /// Tokio runtime, which must keep running while the store is used (a store built in a
    /// runtime that is no longer driven waits for those tasks). Does not migrate: call
    /// [`PostgresStore::migrate`].
    ///
    /// # Errors
    /// A bad schema name, no Tokio runtime, or the database cannot be reached.
    pub async fn build(self) -> Result<PostgresStore<T>, StoreError>
    where
        T: crate::payload::OobPayload + DeserializeOwned + Send + Sync + 'static,
    {
        let schema = SchemaName::new(&self.schema).map_err(StoreError::backend)?;
        let sql = Arc::new(Sql::new(&schema));
        let notifier = Notifier::new();
        let check = Check {
            channel: sql.channel.clone(),
            row: sql.row.to_string(),
            kind: T::KIND,
            rows: self.retention.is_zero(),
        };
        let events = Events::start(&self.pool, check, notifier.clone())
            .await
            .map_err(StoreError::backend)?;
        let sender =
            Sender::start(self.pool.clone(), sql.channel.clone()).map_err(StoreError::backend)?;
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| StoreError::backend(PgError::NoRuntime))?;
        let batcher = Batcher::start(&runtime, self.pool.clone(), sql.clone(), T::KIND);
        Ok(PostgresStore {
            shared: Arc::new(Shared {
                pool: self.pool,
                schema,
                sql,
                batcher,
                retention: self.retention,
                notifier,
                events,
                sender,
                emptied: std::sync::Mutex::default(),
            }),
        })
    }
}
