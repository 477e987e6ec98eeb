//! Change events over `LISTEN`/`NOTIFY`: the task that feeds a store's [`Notifier`].
//!
//! Transitions, clears and purges send an event on the schema's channel (`<schema>_events`)
//! once their change committed (the store queues it; a task of the store sends the queued
//! events in one statement). A payload is the pending id, or, for completions and
//! cancellations in a store with zero retention, the id, a space and the row as JSON (so a
//! waiter learns the outcome although the call that finished the record removed it; a row
//! too long for one notification goes in pieces, put back together here: see the store's
//! `pieces` module).
//!
//! Any role that can connect to the database can `NOTIFY` on the channel, so an event is
//! never taken on trust: a bare event only makes waiters re-read their record. A store with
//! a non-zero retention never sends rows, so there every event is taken as bare (its row is
//! ignored). With zero retention an event carrying a row for a watched id is checked
//! against the tables first (one read of the whole row by id): when the database holds the
//! record open, the waiters only re-read (a forged outcome for an open pending is never
//! answered); when it holds the record finished, they get the database's row, never the
//! event's; only when it holds no row at all (the finishing call removed it) do they get the
//! event's row. Roles that can connect are trusted not to race a real zero-retention
//! completion with a forged one (see SECURITY.md). At most `CONFIRMS` (4) such reads run at
//! once, so a flood of events cannot take the service pool's connections: the listener
//! waits for one to end before it takes the next event (the next notifications wait in its
//! connection). An event's row is the only copy of a record its completion removed, so it
//! is never turned into a bare wake-up for want of a free check (a burst of completions on
//! another replica answered most of their waiters `Removed`); a read that fails is tried
//! again, five times over about half a minute (`CONFIRM_TRIES`: a busy pool, a failover),
//! before the waiters are only made to re-read (they may then answer `Removed`). The server
//! itself ends a read that takes over 2 s (`statement_timeout` for its transaction), so a
//! stalled check holds its connection no longer, and leaves no query behind.
//!
//! The listener holds one connection of its own, made with the options of the service's
//! pool (so it does not take a connection from that pool for ever). When the connection is
//! lost it reconnects with a backoff, `LISTEN`s again and then wakes every local waiter once:
//! events sent while it was away are gone, so every waiter re-reads its record. Every
//! `SWEEP` (10 s) it also wakes every local waiter once, for events lost before they were
//! sent (the store's process stopped between a commit and its event).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::de::DeserializeOwned;
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};

use super::codec::Row;
use super::error::PgError;
use super::pieces::{Piece, Pieces, parse_piece};
use crate::id::PendingId;
use crate::store::Notifier;
use crate::time::Timestamp;

/// The longest payload a notification carries with the row (Postgres refuses 8,000 bytes).
pub(crate) const MAX_EVENT_ROW: i32 = 7_000;

/// How often the listener wakes every local waiter to re-read its record, so that an event
/// lost after its change committed (see [`sender`](super::sender)) delays a waiter by at most
/// this long instead of leaving it waiting until its deadline.
pub(crate) const SWEEP: Duration = Duration::from_secs(10);

/// The most checks of event rows ([`confirm`]) that run at once, each on a connection of
/// the service's pool.
pub(crate) const CONFIRMS: usize = 4;

/// How often a check of an event's row is tried, and the pause before each try (about half
/// a minute in all with [`CONFIRM_READ`]: a pool busy for a while, a failover).
pub(crate) const CONFIRM_TRIES: [Duration; 5] = [
    Duration::ZERO,
    Duration::from_millis(100),
    Duration::from_millis(500),
    Duration::from_secs(2),
    Duration::from_secs(5),
];

/// The longest a try of a check waits for a connection from the pool, and the longest the
/// server lets its read run (`statement_timeout`).
pub(crate) const CONFIRM_READ: Duration = Duration::from_secs(2);

/// The first and the longest pause between reconnection attempts.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(50), Duration::from_secs(2));

/// The running listener of a store; stops when dropped.
#[derive(Debug)]
pub(crate) struct Events {
    task: tokio::task::AbortHandle,
    connected: Arc<AtomicBool>,
}

impl Drop for Events {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Events {
    /// Starts the listener on `pool`'s database and waits until it listens.
    ///
    /// # Errors
    /// Outside a Tokio runtime, or when the first connection or `LISTEN` fails.
    pub(crate) async fn start<T>(
        pool: &PgPool,
        check: Check,
        notifier: Notifier<T>,
    ) -> Result<Self, PgError>
    where
        T: DeserializeOwned + Send + Sync + 'static,
    {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| PgError::NoRuntime)?;
        // One connection, with the service pool's options, for this listener alone.
        let own = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(pool.options().get_acquire_timeout())
            .connect_lazy_with((*pool.connect_options()).clone());
        let first = listen(&own, &check.channel)
            .await
            .map_err(PgError::from_sqlx)?;
        let connected = Arc::new(AtomicBool::new(true));
        let check = Arc::new(check);
        let reader = pool.clone();
        let task = runtime.spawn(run(own, reader, check, notifier, first, connected.clone()));
        Ok(Self {
            task: task.abort_handle(),
            connected,
        })
    }

    /// Whether the listener is connected now.
    pub(crate) fn connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }
}

async fn listen(pool: &PgPool, channel: &str) -> Result<PgListener, sqlx::Error> {
    let mut l = PgListener::connect_with(pool).await?;
    // A lost connection ends `try_recv` with `None`; `run` reconnects, then wakes waiters.
    l.eager_reconnect(false);
    l.ignore_pool_close_event(true);
    l.listen(channel).await?;
    Ok(l)
}

/// What a listener needs to check an event: its channel and the read of one record's row.
#[derive(Debug)]
pub(crate) struct Check {
    pub(crate) channel: String,
    /// `$1` the id, `$2` the kind: the record's row (`COLS`), if it has one.
    pub(crate) row: String,
    pub(crate) kind: &'static str,
    /// Whether events may carry rows (zero retention); otherwise rows are ignored.
    pub(crate) rows: bool,
}

async fn run<T: DeserializeOwned + Send + Sync + 'static>(
    pool: PgPool,
    reader: PgPool,
    check: Arc<Check>,
    notifier: Notifier<T>,
    first: PgListener,
    connected: Arc<AtomicBool>,
) {
    let mut listener = Some(first);
    let mut pause = BACKOFF.0;
    let confirms = Arc::new(tokio::sync::Semaphore::new(CONFIRMS));
    loop {
        // Rows in pieces do not survive a lost connection (their waiters re-read).
        let mut pieces = Pieces::default();
        let mut l = match listener.take() {
            Some(l) => l,
            None => match listen(&pool, &check.channel).await {
                Ok(l) => {
                    connected.store(true, Ordering::SeqCst);
                    pause = BACKOFF.0;
                    // Events sent while away are lost: every waiter re-reads once.
                    notifier.notify_all();
                    l
                }
                Err(_) => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(BACKOFF.1);
                    continue;
                }
            },
        };
        let mut sweep = tokio::time::interval_at(tokio::time::Instant::now() + SWEEP, SWEEP);
        loop {
            tokio::select! {
                got = l.try_recv() => match got {
                    Ok(Some(n)) => {
                        let event = on_event(&notifier, n.payload(), check.rows, &mut pieces);
                        if let Some((id, row)) = event {
                            // At most `CONFIRMS` at once: wait for one to end (the semaphore
                            // is never closed).
                            if let Ok(permit) = confirms.clone().acquire_owned().await {
                                let (reader, check) = (reader.clone(), check.clone());
                                let notifier = notifier.clone();
                                tokio::spawn(async move {
                                    confirm(reader, check, notifier, id, row).await;
                                    drop(permit);
                                });
                            }
                        }
                    }
                    _ => break,
                },
                _ = sweep.tick() => {
                    pieces.sweep(SWEEP);
                    notifier.notify_all();
                }
            }
        }
        connected.store(false, Ordering::SeqCst);
        drop(l);
    }
}

/// Wakes the waiters of the event's id to re-read; when `rows` (zero retention) and the
/// event carries a finished row for a watched id, returns it instead, for [`confirm`] to
/// check against the tables. A piece of a row is kept in `pieces` until the row is whole
/// (nobody is woken before).
pub(crate) fn on_event<T: DeserializeOwned>(
    notifier: &Notifier<T>,
    payload: &str,
    rows: bool,
    pieces: &mut Pieces,
) -> Option<(PendingId, Row)> {
    let (id, rest) = match payload.split_once(' ') {
        Some((id, rest)) => (id, Some(rest).filter(|_| rows)),
        None => (payload, None),
    };
    let id = id.parse::<PendingId>().ok()?;
    if !notifier.is_watched(id) {
        // Nobody waits for it (any more): a row of it being put together goes too.
        pieces.forget(id);
        return None;
    }
    let whole;
    let json = match rest.map(|r| (r, parse_piece(r))) {
        Some((_, Some((k, n, piece)))) => match pieces.add(id, k, n, piece) {
            Piece::Pending => return None,
            Piece::Whole(json) => {
                whole = json;
                Some(whole.as_str())
            }
            Piece::Dropped => None,
        },
        // Any other event of the id ends a row of it being put together.
        other => {
            pieces.forget(id);
            other.map(|(json, _)| json)
        }
    };
    let row = json
        .and_then(|json| serde_json::from_str::<Row>(json).ok())
        .filter(|r| r.id == id.to_string() && r.state != "open");
    if row.is_none() {
        notifier.notify(id);
    }
    row.map(|r| (id, r))
}

/// Hands the waiters of `id` the database's row when it holds the record finished, the
/// event's row only when it holds no row at all (the finishing call removed it); while it
/// holds the record open they only re-read. A read that fails [`CONFIRM_TRIES`] times also
/// only makes them re-read.
async fn confirm<T: DeserializeOwned>(
    reader: PgPool,
    check: Arc<Check>,
    notifier: Notifier<T>,
    id: PendingId,
    row: Row,
) {
    let mut held = Err(sqlx::Error::PoolTimedOut);
    for pause in CONFIRM_TRIES {
        tokio::time::sleep(pause).await;
        held = read_row(&reader, &check, id).await;
        if held.is_ok() {
            break;
        }
    }
    let chosen = match held {
        // No row of this kind: the event's row, if it is of this kind (another kind's
        // record with this id is not this store's to hand out; its waiters re-read).
        Ok(None) => Some(row).filter(|r| r.kind.as_deref() == Some(check.kind)),
        Ok(Some(db)) => Row::read(&db, 0).ok().filter(|r| r.state != "open"),
        Err(_) => None,
    };
    // The row of a finished record: its state does not depend on the time.
    match chosen
        .and_then(|r| r.decode::<T>(Timestamp::from_millis(0)).ok())
        .filter(|r| r.id == id)
    {
        Some(record) => notifier.notify_with(id, record),
        None => notifier.notify(id),
    }
}

/// One try of a check: a connection within [`CONFIRM_READ`], and the read in a transaction
/// whose `statement_timeout` makes the server end it after [`CONFIRM_READ`], so a read
/// stalled on the server (a lock, an I/O stall) gives its connection back clean. A read cut
/// off by this process instead would leave the server's query running, and its connection
/// checked out (returned to the pool) or its server process waiting (closed) until the
/// query ended. The client's own limit, a second longer, is for a network that stops
/// answering.
async fn read_row(
    reader: &PgPool,
    check: &Check,
    id: PendingId,
) -> Result<Option<sqlx::postgres::PgRow>, sqlx::Error> {
    use sqlx::Connection as _;
    let mut conn = tokio::time::timeout(CONFIRM_READ, reader.acquire())
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
    let read = async {
        let mut tx = conn.begin().await?;
        sqlx::query("SELECT set_config('statement_timeout', $1, true)")
            .bind(CONFIRM_READ.as_millis().to_string())
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(check.row.as_str()))
            .bind(id.to_string())
            .bind(check.kind)
            .fetch_optional(&mut *tx)
            .await?;
        tx.rollback().await?;
        Ok(row)
    };
    tokio::time::timeout(CONFIRM_READ + Duration::from_secs(1), read)
        .await
        .unwrap_or(Err(sqlx::Error::PoolTimedOut))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_wake_to_re_read_or_return_the_row_to_check() {
        let n = Notifier::<u32>::new();
        let id = PendingId::random();
        let mut sub = n.subscribe(id);
        assert!(on_event(&n, &id.to_string(), true, &mut Pieces::default()).is_none());
        assert!(sub.try_changed().is_none());
        let row = Row {
            id: id.to_string(),
            namespace: "a".into(),
            alias: None,
            resource: None,
            elicit_id: None,
            data: "5".into(),
            created_at: 1,
            expires_at: 10,
            state: "completed".into(),
            reason: None,
            finished_at: Some(3),
            kind: Some("k".to_owned()),
        };
        let json = serde_json::to_string(&row).expect("json");
        // A row is not handed over before `confirm` checked it.
        let (got, checked) =
            on_event(&n, &format!("{id} {json}"), true, &mut Pieces::default()).expect("the row");
        assert_eq!((got, checked.data.as_str()), (id, "5"));
        assert!(sub.try_changed().is_none());
        // A store that keeps finished records never sends rows: one is only a wake-up.
        assert!(on_event(&n, &format!("{id} {json}"), false, &mut Pieces::default()).is_none());
        let woke = tokio::time::timeout(Duration::from_secs(1), sub.changed()).await;
        assert!(matches!(woke, Ok(None)), "woken to re-read, with no row");
        // Garbage never panics, and wakes nobody for an unparsable id.
        assert!(on_event(&n, "not-an-id", true, &mut Pieces::default()).is_none());
        assert!(on_event(&n, &format!("{id} {{broken"), true, &mut Pieces::default()).is_none());
        assert!(on_event(&n, "", true, &mut Pieces::default()).is_none());
    }
}
