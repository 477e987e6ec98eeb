//! Group commit: the creates and transitions that arrive while others run go to the
//! database together, one statement (one commit, one WAL flush) for many.
//!
//! A create without dedup or a total bound, and every complete or cancel, is queued here.
//! One task per store takes what is queued (up to [`MAX_BATCH`] calls) and runs it as up to
//! three statements at once, on three connections, which commit together: the creates
//! (`create_batch` in [`Sql`]), the transitions that keep the finished row
//! (`transition_keep_batch`) and those that drop it (`transition_drop_batch`); then it takes
//! what was queued meanwhile. A statement does the single statement's writes for every call,
//! with each call's own arguments joined to its row, and tells each call what its single
//! statement would have said. A call alone, or one the batch cannot take, is answered
//! [`Answer::Alone`]: its caller runs the single statement itself, at once, so a lone caller
//! waits for nothing but a hop to the task and back. A call whose caller is gone (its future
//! dropped) before its batch is sent is not sent. The task runs on the runtime the store was
//! built on, which must keep running while the store is used (as its event listener needs).
//!
//! Measured alternatives (BENCHMARKS.md): a task per statement kind, each starting its next
//! batch at once, and up to four batches in flight per kind, both ran the benchmark slower
//! than this (more, smaller statements, whose commits no longer share a WAL flush). A batch
//! waits for its slowest statement; none of them waits long: every lock it can meet is held
//! by another short statement, never in a cycle (below).
//!
//! Why: Postgres spends most of a short statement starting and ending it (executor set-up,
//! locks, the commit and its WAL flush), not on its rows. One statement per call ran the
//! benchmark's create+complete pairs at 48 % of raw `INSERT`+`DELETE` pairs at 64 tasks;
//! batched, 85 % (BENCHMARKS.md).
//!
//! What a batch leaves to the single statements:
//! - a second create of one namespace (a statement may not update its `counts` row twice),
//!   and a create with another bound than the batch's;
//! - a second transition of one id (it then loses, or wins, on its own);
//! - every call of a batch Postgres refused as a whole (an error with a SQLSTATE, the
//!   connection still up: a duplicate id, a deadlock): nothing of it was written, so each
//!   call runs alone and gets its own answer. When the pool gave no connection, each call
//!   gets the pool's error (nothing was sent). Any other failure (the connection broke, the
//!   answer could not be read) may have come after the commit: it is every call's error
//!   ([`PgError::Batch`]), as it would be a single statement's;
//! - a transition the batch did not apply (a loser, a record past its deadline or in another
//!   namespace, no such id): its caller runs the single statement, which says why.
//!
//! One difference: with zero retention, every call of a namespace the batch left with no
//! open record is told so (a single statement tells only the last); the store remembers
//! such namespaces in a set, so once or several times is the same.
//!
//! Locks: statements that wait for several rows take them in one order, so two never wait
//! on each other in a cycle (Postgres would break it by failing one after a second): the
//! rows of `pendings` by id (a transition batch locks the rows it deletes, by id, before it
//! deletes them; a clear locks its namespace's rows by id), the `counts` rows by namespace
//! (the create batch, and `decrement` in [`Sql`]'s module for the transition batches and
//! the purge). The purge never waits for a row: it skips those another statement holds
//! (open and finished rows, and the zero `counts` rows it drops after its commit, in a
//! statement of its own). Two hostile reviews reproduced the cycles earlier versions had
//! (a batch against a clear, against the purge's two passes, against the dropping of zero
//! rows in table order); each is gone by this order. One remains, as with single
//! statements: a create that reuses the id of an open record being finished at that moment
//! (a misuse: ids are drawn at random) waits for it while holding its `counts` row; Postgres
//! fails one of the two, and a refused batch runs each call alone.
//!
//! A batch refused with any SQLSTATE runs each call alone, so each gets its own answer (a
//! timeout or a lack of resources then costs each call its own statement, as it would
//! without batching).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row as _};
use tokio::sync::{mpsc, oneshot};

use super::codec::{NewRow, Row};
use super::error::PgError;
use super::sql::{Sql, q};
use crate::store::StoreError;

/// The most calls one batch takes.
pub(crate) const MAX_BATCH: usize = 128;

/// What the batch answers a call.
#[derive(Debug)]
pub(crate) enum Answer<A> {
    /// What the single statement would have returned.
    Done(A),
    /// Run the single statement.
    Alone,
}

/// A create's answer: whether its id is a finished record's, and whether it was inserted
/// (neither: `counts` says the namespace is full).
pub(crate) type Created = (bool, bool);

/// A transition's answer: the moved row and whether its namespace has no open record left
/// (zero retention only), or `None` when the batch did not apply it.
pub(crate) type Moved = Option<(Row, bool)>;

type Reply<A> = oneshot::Sender<Result<Answer<A>, StoreError>>;

/// A queued create.
struct Create {
    row: Arc<NewRow>,
    per_ns: i64,
    reply: Reply<Created>,
}

/// A queued transition (see [`Move`](super::transitions::Move)).
pub(crate) struct Transition {
    pub(crate) id: String,
    pub(crate) state: &'static str,
    pub(crate) reason: Option<&'static str>,
    pub(crate) expect: Option<String>,
    pub(crate) now: i64,
    pub(crate) keep: bool,
}

enum Call {
    Create(Create),
    Transition(Transition, Reply<Moved>),
}

/// The queue of one store's batching task; the task ends once every clone of the store is
/// gone and the queue is empty.
#[derive(Debug)]
pub(crate) struct Batcher {
    tx: mpsc::UnboundedSender<Call>,
}

impl std::fmt::Debug for Call {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Create(_) => "Create",
            Self::Transition(..) => "Transition",
        })
    }
}

impl Batcher {
    /// Starts the task on `runtime`, running batches of `kind` through `pool`.
    pub(crate) fn start(
        runtime: &tokio::runtime::Handle,
        pool: PgPool,
        sql: Arc<Sql>,
        kind: &'static str,
    ) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        runtime.spawn(run(pool, sql, kind, rx));
        Self { tx }
    }

    /// Queues a create (see [`Created`]); `Alone` when the task is gone (nothing was sent),
    /// an error when it stopped holding the call.
    pub(crate) async fn create(
        &self,
        row: Arc<NewRow>,
        per_ns: i64,
    ) -> Result<Answer<Created>, StoreError> {
        let (reply, answer) = oneshot::channel();
        if self
            .tx
            .send(Call::Create(Create { row, per_ns, reply }))
            .is_err()
        {
            return Ok(Answer::Alone);
        }
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }

    /// Queues a transition (see [`Moved`]); as [`create`](Self::create).
    pub(crate) async fn transition(&self, t: Transition) -> Result<Answer<Moved>, StoreError> {
        let (reply, answer) = oneshot::channel();
        if self.tx.send(Call::Transition(t, reply)).is_err() {
            return Ok(Answer::Alone);
        }
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }
}

/// The task dropped a call it held (its runtime shut down mid-batch): the batch may have
/// been applied, so the call must not run again alone.
fn stopped() -> StoreError {
    StoreError::Backend(Box::new(PgError::BatchStopped))
}

/// The task: takes what is queued and runs it as up to three statements at once (creates,
/// transitions keeping their row, transitions dropping it), which commit together; then
/// takes what was queued meanwhile. Calls whose caller is gone are not sent.
async fn run(
    pool: PgPool,
    sql: Arc<Sql>,
    kind: &'static str,
    mut rx: mpsc::UnboundedReceiver<Call>,
) {
    let mut queued = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut queued, MAX_BATCH).await > 0 {
        let mut creates: Vec<Create> = Vec::new();
        let mut kept = Vec::new();
        let mut dropped = Vec::new();
        let mut namespaces = HashSet::new();
        let mut ids = HashSet::new();
        for call in queued.drain(..) {
            match call {
                Call::Create(c) if c.reply.is_closed() => {}
                Call::Create(c)
                    if c.per_ns == creates.first().map_or(c.per_ns, |f| f.per_ns)
                        && namespaces.insert(c.row.namespace.clone()) =>
                {
                    creates.push(c);
                }
                Call::Create(c) => {
                    let _ = c.reply.send(Ok(Answer::Alone));
                }
                Call::Transition(_, reply) if reply.is_closed() => {}
                Call::Transition(t, reply) if ids.insert(t.id.clone()) => {
                    if t.keep {
                        kept.push((t, reply));
                    } else {
                        dropped.push((t, reply));
                    }
                }
                Call::Transition(_, reply) => {
                    let _ = reply.send(Ok(Answer::Alone));
                }
            }
        }
        tokio::join!(
            create_batch(&pool, &sql, kind, creates),
            transition_batch(&pool, &sql.transition_keep_batch, kind, kept, true),
            transition_batch(&pool, &sql.transition_drop_batch, kind, dropped, false)
        );
    }
}

/// Whether a failed batch wrote nothing for sure, so each call may run alone: Postgres
/// answered with an error (which rolled the statement back) while the connection stayed up.
fn refused(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().is_some()) && !PgError::unavailable(e)
}

/// What every call of a batch that failed is told: run alone (see [`refused`]); the pool's
/// own error when it gave no connection (nothing was sent; running alone would only wait for
/// a connection again); else [`PgError::Batch`] (the outcome is unknown).
fn failed<A>(e: sqlx::Error) -> impl Fn() -> Result<Answer<A>, StoreError> {
    let e = Arc::new(e);
    move || match &*e {
        _ if refused(&e) => Ok(Answer::Alone),
        sqlx::Error::PoolTimedOut => Err(PgError::store(sqlx::Error::PoolTimedOut)),
        sqlx::Error::PoolClosed => Err(PgError::store(sqlx::Error::PoolClosed)),
        _ => Err(PgError::batch(&e)),
    }
}

/// Tells every call of a batch the same thing.
fn tell_all<A>(
    replies: impl IntoIterator<Item = Reply<A>>,
    answer: impl Fn() -> Result<Answer<A>, StoreError>,
) {
    for reply in replies {
        let _ = reply.send(answer());
    }
}

async fn create_batch(pool: &PgPool, sql: &Sql, kind: &str, creates: Vec<Create>) {
    if creates.len() < 2 {
        tell_all(creates.into_iter().map(|c| c.reply), || Ok(Answer::Alone));
        return;
    }
    let per_ns = creates[0].per_ns;
    let rows = {
        let col = |f: fn(&NewRow) -> Option<&str>| -> Vec<Option<&str>> {
            creates.iter().map(|c| f(&c.row)).collect()
        };
        sqlx::query(q(&sql.create_batch))
            .bind(col(|r| Some(&r.id)))
            .bind(col(|r| Some(&r.namespace)))
            .bind(col(|r| r.alias.as_deref()))
            .bind(col(|r| r.resource.as_deref()))
            .bind(col(|r| r.elicit_id.as_deref()))
            .bind(col(|r| Some(&r.data)))
            .bind(creates.iter().map(|c| c.row.created_at).collect::<Vec<_>>())
            .bind(creates.iter().map(|c| c.row.expires_at).collect::<Vec<_>>())
            .bind(kind)
            .bind(per_ns)
            .fetch_all(pool)
            .await
    };
    let replies = creates.into_iter().map(|c| c.reply);
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => return tell_all(replies, failed(e)),
    };
    let mut answers: HashMap<i64, Created> = HashMap::with_capacity(rows.len());
    for row in &rows {
        match read_created(row) {
            Ok((ord, created)) => {
                answers.insert(ord, created);
            }
            Err(e) => return tell_all(replies, failed(e)),
        }
    }
    for (ord, reply) in (1..).zip(replies) {
        let _ = reply.send(match answers.get(&ord) {
            Some(created) => Ok(Answer::Done(*created)),
            None => Err(PgError::malformed("batch create")),
        });
    }
}

fn read_created(row: &PgRow) -> Result<(i64, Created), sqlx::Error> {
    Ok((row.try_get(0)?, (row.try_get(1)?, row.try_get(2)?)))
}

async fn transition_batch(
    pool: &PgPool,
    stmt: &Arc<str>,
    kind: &str,
    calls: Vec<(Transition, Reply<Moved>)>,
    keep: bool,
) {
    if calls.len() < 2 {
        tell_all(calls.into_iter().map(|(_, r)| r), || Ok(Answer::Alone));
        return;
    }
    let rows = sqlx::query(q(stmt))
        .bind(calls.iter().map(|(t, _)| t.id.as_str()).collect::<Vec<_>>())
        .bind(calls.iter().map(|(t, _)| t.state).collect::<Vec<_>>())
        .bind(calls.iter().map(|(t, _)| t.reason).collect::<Vec<_>>())
        .bind(calls.iter().map(|(t, _)| t.now).collect::<Vec<_>>())
        .bind(
            calls
                .iter()
                .map(|(t, _)| t.expect.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(kind)
        .fetch_all(pool)
        .await;
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => return tell_all(calls.into_iter().map(|(_, r)| r), failed(e)),
    };
    let mut moved: HashMap<String, (Row, bool)> = HashMap::with_capacity(rows.len());
    for row in &rows {
        let read = Row::read(row, 0).and_then(|r| {
            let emptied = if keep { false } else { row.try_get(11)? };
            Ok((r, emptied))
        });
        match read {
            Ok((r, emptied)) => {
                moved.insert(r.id.clone(), (r, emptied));
            }
            Err(e) => return tell_all(calls.into_iter().map(|(_, r)| r), failed(e)),
        }
    }
    for (t, reply) in calls {
        let _ = reply.send(Ok(Answer::Done(moved.remove(&t.id))));
    }
}
