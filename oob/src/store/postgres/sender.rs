//! Sending change events after the change committed, several per statement.
//!
//! A transaction that ran `NOTIFY` takes a database-wide lock while it commits (Postgres
//! serialises the commits of notifying transactions to keep the notification order), so a
//! `pg_notify` inside every transition serialises the transitions' commits and their WAL
//! flushes: measured on Postgres 15 with durable commits, 64 tasks of create+complete ran at
//! about a tenth of the rate of the same statements without the notification. So the store's
//! statements do not notify: once a statement returned (committed), the store hands the
//! event to this sender, whose task sends every event queued meanwhile in one statement
//! (`SELECT pg_notify($1, p) FROM unnest($2)`), one commit for the batch. That commit does
//! not wait for its WAL flush (`synchronous_commit` is off for that transaction alone): it
//! changes no data, and a notification is delivered at commit, not made durable (with the
//! wait, every batch cost one more fsync beside the store's own: at one task, a third
//! flush per create+complete pair).
//!
//! What this costs: an event reaches the other replicas after the change committed rather
//! than with the commit (one more round trip, shared by the batch); and an event is lost if
//! this process stops between the commit and the batch, the database refuses the batch
//! [`ATTEMPTS`] times, or [`QUEUE`] events already wait (the database refusing every batch,
//! e.g. its notification queue full behind a stuck listener, while transitions go on: the
//! queue does not grow without bound). Waiters never depend on one event alone: local
//! waiters are woken directly by the store; a listener that lost its connection wakes its
//! waiters once when it is back; and every listener wakes its waiters every
//! [`SWEEP`](super::listener::SWEEP) to re-read their record, so a lost event delays a
//! remote waiter by at most that long.

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::mpsc;

use super::error::PgError;

/// The most events one statement sends.
const MAX_BATCH: usize = 512;

/// The most events waiting to be sent; an event past it is dropped (see the module docs).
pub(crate) const QUEUE: usize = 65_536;

/// How often a batch is tried before it is dropped.
pub(crate) const ATTEMPTS: u32 = 5;

/// The first pause before a batch is tried again (doubling).
const RETRY: Duration = Duration::from_millis(50);

/// The sending side of a store's change events; the task ends once every clone of the
/// store is gone and the queued events are sent.
#[derive(Debug)]
pub(crate) struct Sender {
    tx: mpsc::Sender<String>,
}

impl Sender {
    /// Starts the task on the current runtime, sending on `channel` through `pool`.
    ///
    /// # Errors
    /// Outside a Tokio runtime.
    pub(crate) fn start(pool: PgPool, channel: String) -> Result<Self, PgError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| PgError::NoRuntime)?;
        let (tx, rx) = mpsc::channel(QUEUE);
        runtime.spawn(run(pool, channel, rx));
        Ok(Self { tx })
    }

    /// Queues an event (a payload as [`on_event`](super::listener::on_event) reads it), or
    /// drops it when [`QUEUE`] events already wait.
    pub(crate) fn send(&self, payload: String) {
        // The task ends only after every sender is gone; a runtime that shut down has
        // no waiters left to wake.
        let _ = self.tx.try_send(payload);
    }
}

async fn run(pool: PgPool, channel: String, mut rx: mpsc::Receiver<String>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let mut pause = RETRY;
        for attempt in 1..=ATTEMPTS {
            let sent = sqlx::query(
                "SELECT set_config('synchronous_commit', 'off', true), \
                 count(pg_notify($1, p)::text) FROM unnest($2::text[]) AS p",
            )
            .bind(&channel)
            .bind(&batch)
            .execute(&pool)
            .await;
            if sent.is_ok() || attempt == ATTEMPTS {
                break;
            }
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
        batch.clear();
    }
}
