//! The statements of a [`PostgresStore`](super::PostgresStore), one per operation, each
//! atomic on its own (only a clear and a purge run several, in one transaction). Open
//! records live in `pendings`, finished ones in `finished` (see [`schema`](super::schema)).
//!
//! - create: see [`create`](super::create);
//! - complete, cancel: one `DELETE FROM pendings … WHERE id = $1 AND expires_at > now …
//!   RETURNING` that inserts the finished row into `finished` (or, with zero retention,
//!   only deletes it), for several ids at once when they arrive together (see
//!   [`batch`](super::batch)); of any number of completers exactly one deletes the row. Only
//!   when it changed nothing, the single statement runs again, then a read says why;
//!   A complete with [`Wake::Later`](crate::store::Wake::Later) keeps the finished row even
//!   with zero retention, until the store's `wake` deletes it (`forget`), so a retry in
//!   between reads the outcome instead of not found (a purge removes it only `WAKE_GRACE`
//!   after it finished: its completer died before waking);
//! - get: both tables by primary key, hiding records past their retention;
//! - clear: two statements in one READ COMMITTED transaction, the namespace's open rows,
//!   then its finished rows (see [`clear`]); purge: one `DELETE … RETURNING` over both
//!   tables in a transaction that first takes the schema's purge lock. Both then delete the
//!   `counts` rows that are zero of the namespaces they touched (see
//!   [`schema`](super::schema)).
//!
//! No statement notifies: the store sends change events after the commit (see
//! [`listener`](super::listener)).

use sqlx::postgres::PgRow;
use sqlx::{PgPool, Row as _};

use super::batch::{self, Answer, Batcher};
use super::codec::Row;
use super::error::PgError;
use super::sql::q;
pub(crate) use super::sql::{PURGE_CHUNK, Sql};
use crate::id::PendingId;
use crate::store::{StoreError, TransitionError};

/// What of a record reads still see: rows that expired after `expired`, completed and
/// cancelled rows that finished after `finished` (both now minus the retention; with zero
/// retention `finished` is `WAKE_GRACE` earlier, see [`Sql`]'s `get`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cutoff {
    pub(crate) expired: i64,
    pub(crate) finished: i64,
}

/// The record `id` of `kind`, unless past its retention (see [`Cutoff`]).
pub(crate) async fn get(
    pool: &PgPool,
    sql: &Sql,
    kind: &str,
    id: PendingId,
    cutoff: Cutoff,
) -> Result<Option<Row>, StoreError> {
    Ok(match lookup(pool, sql, kind, id, cutoff).await? {
        Lookup::Visible(row) => Some(*row),
        Lookup::Hidden | Lookup::Absent => None,
    })
}

/// What a read of one id found.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// The row, still visible.
    Visible(Box<Row>),
    /// A row past its retention (gone for reads, not yet purged).
    Hidden,
    /// No row.
    Absent,
}

/// Reads `id` of `kind`; rows past their retention (see [`Cutoff`]) are hidden.
pub(crate) async fn lookup(
    pool: &PgPool,
    sql: &Sql,
    kind: &str,
    id: PendingId,
    cutoff: Cutoff,
) -> Result<Lookup, StoreError> {
    let row = sqlx::query(q(&sql.get))
        .bind(id.to_string())
        .bind(kind)
        .bind(cutoff.expired)
        .bind(cutoff.finished)
        .fetch_optional(pool)
        .await
        .map_err(PgError::store)?;
    let Some(row) = row else {
        return Ok(Lookup::Absent);
    };
    let visible: bool = row.try_get(11).map_err(PgError::store)?;
    if !visible {
        return Ok(Lookup::Hidden);
    }
    Ok(Lookup::Visible(Box::new(
        Row::read(&row, 0).map_err(PgError::store)?,
    )))
}

/// A transition to `state` (`completed` or `cancelled`, with `reason`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Move<'a> {
    pub(crate) id: PendingId,
    pub(crate) state: &'static str,
    pub(crate) reason: Option<&'static str>,
    pub(crate) expect: Option<&'a str>,
    pub(crate) now: i64,
    /// Whether the finished row is kept (non-zero retention, or a `Wake::Later` complete).
    pub(crate) keep: bool,
    /// What reads still see, to say why a transition changed nothing.
    pub(crate) cutoff: Cutoff,
}

/// A transition's record, and whether it left its namespace with no open record (zero
/// retention only: the store then deletes the namespace's `counts` row at its next purge).
pub(crate) async fn transition(
    pool: &PgPool,
    sql: &Sql,
    batcher: &Batcher,
    kind: &str,
    m: Move<'_>,
) -> Result<(Row, bool), TransitionError> {
    let id = m.id.to_string();
    let batched = batcher
        .transition(batch::Transition {
            id: id.clone(),
            state: m.state,
            reason: m.reason,
            expect: m.expect.map(str::to_owned),
            now: m.now,
            keep: m.keep,
        })
        .await?;
    if let Answer::Done(Some(moved)) = batched {
        return Ok(moved);
    }
    // Not applied by a batch (see `batch`): alone, the statement applies it or says why.
    let stmt = if m.keep {
        &sql.transition_keep
    } else {
        &sql.transition_drop
    };
    let changed = sqlx::query(q(stmt))
        .bind(&id)
        .bind(kind)
        .bind(m.state)
        .bind(m.reason)
        .bind(m.now)
        .bind(m.expect)
        .fetch_optional(pool)
        .await
        .map_err(PgError::store)?;
    if let Some(row) = changed {
        let emptied = if m.keep {
            false
        } else {
            row.try_get(11).map_err(PgError::store)?
        };
        return Ok((Row::read(&row, 0).map_err(PgError::store)?, emptied));
    }
    // Nothing changed: say why, from the row as it is now (a fresh snapshot, so a
    // concurrent winner's commit is seen).
    let Some(row) = get(pool, sql, kind, m.id, m.cutoff).await? else {
        return Err(TransitionError::NotFound);
    };
    // The order of `lifecycle::refusal` (`get` read only a record still visible): another
    // namespace's record is a mismatch whatever its state.
    if m.expect.is_some_and(|ns| ns != row.namespace) {
        return Err(TransitionError::NamespaceMismatch);
    }
    if !row.is_open_at(m.now) {
        return Err(TransitionError::Finished(row.finished_as()));
    }
    // Open now, yet the delete did not apply: rows never reopen, so this is a store that
    // changed underneath; report it as a backend answer that cannot be used.
    Err(PgError::malformed("transition").into())
}

pub(crate) async fn list(
    pool: &PgPool,
    sql: &Sql,
    kind: &str,
    namespace: &str,
    now: i64,
) -> Result<Vec<Row>, StoreError> {
    let rows = sqlx::query(q(&sql.list))
        .bind(namespace)
        .bind(kind)
        .bind(now)
        .fetch_all(pool)
        .await
        .map_err(PgError::store)?;
    rows.iter()
        .map(|r| Row::read(r, 0).map_err(PgError::store))
        .collect()
}

/// Deletes the finished row of `id` that a `Wake::Later` complete kept in a store with zero
/// retention.
pub(crate) async fn forget(
    pool: &PgPool,
    sql: &Sql,
    kind: &str,
    id: PendingId,
) -> Result<(), StoreError> {
    sqlx::query(q(&sql.forget))
        .bind(id.to_string())
        .bind(kind)
        .execute(pool)
        .await
        .map_err(PgError::store)?;
    Ok(())
}

/// Deletes every record of `namespace`; returns the ids deleted.
///
/// Two statements, so the second reads a snapshot taken after the first. The first deletes
/// the open rows, waiting for those another transaction holds: a transition, a batch of
/// them, or a create moving the namespace's expired rows out. Such a row is gone from
/// `pendings` once its holder commits, and the first statement skips it; the finished row
/// its holder inserted is not in that statement's snapshot (taken before the commit), so
/// one statement over both tables left it behind, payload and all. The second statement
/// deletes the finished rows and sees it. Every move out of `pendings` holds the open row's
/// lock until it commits, so a move either committed before the first statement ended (its
/// finished row is in the second's snapshot) or waits for the clear and finds no row. Only
/// records created after the first statement began may outlive the clear (as a create
/// that comes just after it would). READ COMMITTED is named, not assumed: under a server
/// default of REPEATABLE READ the second statement would reuse the first's snapshot.
pub(crate) async fn clear(
    pool: &PgPool,
    sql: &Sql,
    kind: &str,
    namespace: &str,
) -> Result<Vec<PendingId>, StoreError> {
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
        .await
        .map_err(PgError::store)?;
    let open = sqlx::query(q(&sql.clear_open))
        .bind(namespace)
        .bind(kind)
        .fetch_all(&mut *tx)
        .await
        .map_err(PgError::store)?;
    let finished = sqlx::query(q(&sql.clear_finished))
        .bind(namespace)
        .bind(kind)
        .bind(i64::try_from(open.len()).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await
        .map_err(PgError::store)?;
    sqlx::query(q(&sql.drop_counts))
        .bind(kind)
        .bind(&[namespace][..])
        .execute(&mut *tx)
        .await
        .map_err(PgError::store)?;
    tx.commit().await.map_err(PgError::store)?;
    let mut cleared = ids(&open)?;
    cleared.extend(ids(&finished)?);
    Ok(cleared)
}

/// Deletes up to [`PURGE_CHUNK`] records of each table whose retention ended by `cutoff`,
/// then the `counts` rows that are zero of their namespaces and of `emptied`; their ids.
pub(crate) async fn purge_chunk(
    pool: &PgPool,
    sql: &Sql,
    kind: &str,
    cutoff: i64,
    finished_cutoff: i64,
    emptied: &[String],
) -> Result<Purged, StoreError> {
    let mut tx = pool.begin().await.map_err(PgError::store)?;
    sqlx::query(q(&sql.purge_lock))
        .execute(&mut *tx)
        .await
        .map_err(PgError::store)?;
    let rows = sqlx::query(q(&sql.purge))
        .bind(kind)
        .bind(cutoff)
        .bind(finished_cutoff)
        .fetch_all(&mut *tx)
        .await
        .map_err(PgError::store)?;
    let mut namespaces = emptied.to_vec();
    for row in &rows {
        namespaces.push(row.try_get(1).map_err(PgError::store)?);
    }
    tx.commit().await.map_err(PgError::store)?;
    let ids = ids(&rows)?;
    namespaces.sort_unstable();
    namespaces.dedup();
    // After the purge's commit, in a statement of its own: within the purge's transaction
    // it would lock these rows while holding those its decrement locked, two passes in
    // namespace order, which a create batch locking rows in between can wait on in a cycle.
    if !namespaces.is_empty()
        && sqlx::query(q(&sql.drop_counts))
            .bind(kind)
            .bind(&namespaces)
            .execute(pool)
            .await
            .is_err()
    {
        return Ok(Purged {
            ids,
            retry: namespaces,
        });
    }
    Ok(Purged {
        ids,
        retry: Vec::new(),
    })
}

/// What a purge statement removed, and the namespaces whose zero `counts` rows are still to
/// be dropped (by the next purge: that statement failed).
#[derive(Debug)]
pub(crate) struct Purged {
    pub(crate) ids: Vec<PendingId>,
    pub(crate) retry: Vec<String>,
}

fn ids(rows: &[PgRow]) -> Result<Vec<PendingId>, StoreError> {
    rows.iter()
        .map(|r| {
            let id: String = r.try_get(0).map_err(PgError::store)?;
            id.parse().map_err(|_| PgError::malformed("id"))
        })
        .collect()
}
