//! [`PostgresStore`] and [`PostgresVault`]: shared state in the Postgres database a service
//! already runs (feature `postgres`), on the service's own sqlx [`PgPool`].
//!
//! # Set-up
//!
//! The store does not change the database by itself: call [`migrate`] (or
//! [`PostgresStore::migrate`]) once at start-up. Everything lives in one Postgres schema
//! ([`DEFAULT_SCHEMA`], or another per [`PostgresStoreBuilder::schema`]); see [`schema`] for
//! the tables.
//!
//! # Atomicity across replicas
//!
//! Every operation is one statement; plain creates, completes and cancels that arrive while
//! others run share one (group commit: up to 128 calls per statement, the same writes, each
//! call answered as by its own statement). A create without dedup and total bound
//! increments the
//! namespace's row in the `counts` table while it is below the bound (its row lock
//! serialises the namespace's creates on every replica) and inserts. Otherwise, or when
//! `counts` says the namespace is full, it calls the schema's `create_pending` function,
//! which takes a transaction-scoped advisory lock on the namespace and kind (on the kind when
//! the total is bounded) and the namespace's `counts` row, then applies dedup, moves the
//! namespace's expired pendings out if it is at its bound (expiry is exact to the
//! millisecond), checks the namespace bound, then the total, and inserts; so creates from any
//! number of replicas never exceed a bound nor create two pendings for one dedup key.
//!
//! The per-namespace bound costs one `counts` row update per create and per transition
//! (constant). The total bound does not: with [`Limits::total`](super::Limits::total) set
//! (finite), a create takes an advisory lock on the kind (so creates of that kind, on every
//! replica, run one at a time through their commit) and counts the kind's open, unexpired
//! rows by the `(kind, expires_at)` index up to the bound: its cost grows with the number
//! of open pendings, up to the bound. A per-kind counter row would make it constant, but
//! every complete, cancel, purge and clear of the kind would then update that one row, so
//! every transition of every namespace would wait for the previous one's commit: measured
//! with pgbench (Postgres 15, durable commits, 64 clients, the store's create and complete
//! plus that row, 5 rounds of 5 s), 4-6 % of raw `INSERT`+`DELETE` against 43-52 % without
//! it, about a tenth of the store's rate. Services that need a tight total bound pay it on
//! creates; the default ([`Limits::default`](super::Limits::default)) sets none.
//!
//! A transition is one
//! `DELETE FROM pendings WHERE id = … AND expires_at > now … RETURNING` that inserts the
//! finished row into the `finished` table: of any number of completers on any replicas,
//! exactly one deletes the open row. Expired and finished rows are purged through indexes on
//! their times.
//!
//! # Waiters
//!
//! Once a statement that changed a record returned, the store wakes its local waiters and
//! queues a change event, which a task sends on the schema's channel with the other events
//! queued meanwhile (not inside the change's transaction: Postgres serialises the commits of
//! notifying transactions). Each store `LISTEN`s on its own connection (made with the pool's
//! options) and wakes its local waiters, so a waiter on replica A wakes when replica B
//! completes. See [`listener`] for reconnection and lost events.
//!
//! With zero retention the finished record is gone from the tables when its event goes, so
//! the event carries its row (with its kind: the kinds of a schema share the channel, and a
//! store takes rows of its own kind only; during a rolling upgrade from a build before
//! 2026-12-07, whose rows carry no kind, a waiter here of a record an older replica
//! finished answers [`Outcome::Removed`](crate::Outcome::Removed)), in pieces when it is
//! long. A row longer than
//! about 6.9 MB (its payload and labels) cannot ride the event: waiters on other replicas
//! then answer [`Outcome::Removed`](crate::Outcome::Removed). Keep a retention window for
//! payloads that large.
//!
//! # Errors
//!
//! Failures are [`StoreError::Backend`] with a [`PgError`] source:
//! [`PgError::is_unavailable`] tells a database that is down or unreachable from one that
//! answered with an error. Nothing panics on a bad row or a lost server.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::PgPool;

mod batch;
mod builder;
mod codec;
mod create;
mod error;
pub mod listener;
mod pieces;
pub mod schema;
mod sender;
mod sql;
mod store;
mod transitions;
mod vault;

pub use builder::PostgresStoreBuilder;
pub use error::PgError;
pub use schema::{BadSchemaName, DEFAULT_SCHEMA, SCHEMA_VERSION, SchemaName, migrate};
pub use vault::PostgresVault;

use self::codec::{Row, ms, reason_str};
use self::listener::Events;
use self::sender::Sender;
use self::transitions::{Cutoff, Move, Sql};
use super::lifecycle::WAKE_GRACE;
use super::{Notifier, Record, StoreError, TransitionError, Wake};
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::payload::OobPayload;
use crate::state::CancelReason;
use crate::time::Timestamp;

pub use crate::store::lifecycle::DEFAULT_RETENTION;

/// How long a read that finds nothing for a watched id waits for its change event (zero
/// retention only; see [`PostgresStore::get`](super::Store::get)).
const EVENT_WAIT: Duration = Duration::from_secs(1);

/// A [`Store`](super::Store) in Postgres, shared by every replica on the same database and
/// schema (feature `postgres`). Cloning shares the pool, the listener and the waiters.
///
/// ```no_run
/// # async fn run(pool: sqlx::PgPool) -> Result<(), oob::store::StoreError> {
/// use oob::store::PostgresStore;
/// # #[derive(Clone, serde::Serialize, serde::Deserialize, oob::OobPayload)]
/// # #[oob(kind = "k", route = "/cb/{id}")] struct Key;
/// let store = PostgresStore::<Key>::builder(pool).build().await?;
/// store.migrate().await?; // once at start-up: creates or upgrades the `oob` schema
/// # Ok(()) }
/// ```
pub struct PostgresStore<T> {
    shared: Arc<Shared<T>>,
}

struct Shared<T> {
    pool: PgPool,
    schema: SchemaName,
    sql: Arc<Sql>,
    /// Group commit of creates and transitions (see [`batch`]).
    batcher: batch::Batcher,
    retention: Duration,
    notifier: Notifier<T>,
    events: Events,
    sender: Sender,
    /// Namespaces a zero-retention transition left with no open record: the next purge
    /// deletes their `counts` rows if still zero (at most [`MAX_EMPTIED`] remembered).
    emptied: std::sync::Mutex<std::collections::HashSet<String>>,
}

/// The most namespaces [`Shared::emptied`] remembers between purges (the rest keep their
/// zero `counts` row until a purge or clear touches their namespace again).
const MAX_EMPTIED: usize = 10_000;

/// Adds `namespaces` to the emptied set `set` while it holds fewer than [`MAX_EMPTIED`].
fn remember(
    set: &mut std::collections::HashSet<String>,
    namespaces: impl IntoIterator<Item = String>,
) {
    for namespace in namespaces {
        if set.len() >= MAX_EMPTIED {
            return;
        }
        set.insert(namespace);
    }
}

impl<T> Clone for PostgresStore<T> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<T> std::fmt::Debug for PostgresStore<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("schema", &self.shared.schema)
            .field("retention", &self.shared.retention)
            .finish_non_exhaustive()
    }
}

impl<T> PostgresStore<T> {
    /// A builder on the service's pool.
    pub fn builder(pool: PgPool) -> PostgresStoreBuilder<T> {
        PostgresStoreBuilder {
            pool,
            schema: DEFAULT_SCHEMA.to_owned(),
            retention: DEFAULT_RETENTION,
            _payload: PhantomData,
        }
    }

    /// Creates or upgrades the store's schema (see [`migrate`]); returns the version found.
    ///
    /// # Errors
    /// The database failed, or the schema is newer than this build's.
    pub async fn migrate(&self) -> Result<i32, StoreError> {
        migrate(&self.shared.pool, &self.shared.schema).await
    }

    /// The pool.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.shared.pool
    }

    /// The schema.
    #[must_use]
    pub fn schema(&self) -> &SchemaName {
        &self.shared.schema
    }

    /// The retention window.
    #[must_use]
    pub fn retention(&self) -> Duration {
        self.shared.retention
    }

    /// Whether the change-event listener is connected now (it reconnects by itself).
    #[must_use]
    pub fn events_connected(&self) -> bool {
        self.shared.events.connected()
    }

    /// How many ids have waiters subscribed on this replica.
    #[must_use]
    pub fn watched(&self) -> usize {
        self.shared.notifier.watched()
    }

    /// Wakes the local waiters of `ids` and queues their change events.
    fn changed(&self, ids: &[PendingId]) {
        let s = &self.shared;
        for id in ids {
            if s.notifier.is_watched(*id) {
                s.notifier.notify(*id);
            }
            s.sender.send(id.to_string());
        }
    }

    /// Queues the change event of a finished record; with zero retention it carries the
    /// row (the record is gone from the tables), in pieces when it is too long for one
    /// notification (see the `pieces` module).
    fn send_finished(&self, id: PendingId, row: Option<&Row>, kind: &'static str) {
        /// The row with its kind (see [`Row::kind`]).
        #[derive(serde::Serialize)]
        struct EventRow<'a> {
            #[serde(flatten)]
            row: &'a Row,
            kind: &'a str,
        }
        let id = id.to_string();
        match row.filter(|_| self.shared.retention.is_zero()) {
            Some(row) => match serde_json::to_string(&EventRow { row, kind }) {
                Ok(json) => {
                    for payload in pieces::event_payloads(&id, &json) {
                        self.shared.sender.send(payload);
                    }
                }
                Err(_) => self.shared.sender.send(id),
            },
            None => self.shared.sender.send(id),
        }
    }

    /// Now minus the retention: what finished (or expired) at or before it is gone.
    fn cutoff(&self, now: Timestamp) -> i64 {
        let retention = i64::try_from(self.shared.retention.as_millis()).unwrap_or(i64::MAX);
        ms(now).saturating_sub(retention)
    }

    /// What reads still see at `now` (`lifecycle::visible`). With zero retention the
    /// finished rows that finished less than `WAKE_GRACE` ago: the store keeps one only from
    /// a [`Wake::Later`] complete until its [`wake`](super::Store::wake), or until a purge
    /// `WAKE_GRACE` after it finished.
    fn read_cutoff(&self, now: Timestamp) -> Cutoff {
        let expired = self.cutoff(now);
        Cutoff {
            expired,
            finished: if self.shared.retention.is_zero() {
                let grace = i64::try_from(WAKE_GRACE.as_millis()).unwrap_or(i64::MAX);
                ms(now).saturating_sub(grace)
            } else {
                expired
            },
        }
    }
}

impl<T> PostgresStore<T>
where
    T: OobPayload + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    /// A transition, in a task of its own (see `store/detached.rs`): a caller that goes
    /// away after its statement was sent does not take the event and the local wake-up
    /// with it.
    async fn transition(
        &self,
        id: PendingId,
        reason: Option<CancelReason>,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        let this = self.clone();
        let expect = expect.cloned();
        crate::store::detached::transition(self.clone(), id, now, wake, async move {
            this.transition_here(id, reason, expect.as_ref(), now, wake)
                .await
        })
        .await
    }

    async fn transition_here(
        &self,
        id: PendingId,
        reason: Option<CancelReason>,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        let (state, reason) = match reason {
            None => ("completed", None),
            Some(r) => ("cancelled", Some(reason_str(r))),
        };
        let m = Move {
            id,
            state,
            reason,
            expect: expect.map(Namespace::as_str),
            now: ms(now),
            // With zero retention a record completed with `Wake::Later` stays readable
            // (finished) until `wake`, so a retry before the wake-up reads its outcome.
            keep: !self.shared.retention.is_zero() || wake == Wake::Later,
            cutoff: self.read_cutoff(now),
        };
        let s = &self.shared;
        let (row, emptied) =
            transitions::transition(&s.pool, &s.sql, &s.batcher, T::KIND, m).await?;
        if emptied {
            let mut list = s
                .emptied
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !list.contains(&row.namespace) {
                remember(&mut list, [row.namespace.clone()]);
            }
        }
        if wake == Wake::Now {
            self.send_finished(id, Some(&row), T::KIND);
        }
        let record: Record<T> = row.decode(now)?;
        if wake == Wake::Now && s.notifier.is_watched(id) {
            // Local waiters at once; the event wakes the other replicas (and these again).
            s.notifier.notify_with(id, record.clone());
        }
        Ok(record)
    }
}

impl<T> crate::store::detached::Rewake<T> for PostgresStore<T>
where
    T: OobPayload + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn reread(
        &self,
        id: PendingId,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<Record<T>>, StoreError>> + Send {
        crate::store::Store::get(self, id, now)
    }

    fn rewake(&self, record: &Record<T>) -> impl Future<Output = Result<(), StoreError>> + Send {
        crate::store::Store::wake(self, record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The emptied set never grows past MAX_EMPTIED, also when a failed purge puts back
    /// what it took (the set may have filled again in between).
    #[test]
    fn remembering_stops_at_the_cap() {
        let mut set = std::collections::HashSet::new();
        remember(&mut set, (0..MAX_EMPTIED - 1).map(|i| i.to_string()));
        remember(&mut set, ["0".to_owned()]);
        assert_eq!(
            set.len(),
            MAX_EMPTIED - 1,
            "a known namespace is not added twice"
        );
        remember(&mut set, (0..10).map(|i| format!("x{i}")));
        assert_eq!(set.len(), MAX_EMPTIED);
        assert!(set.contains("x0") && !set.contains("x1"));
    }
}
