//! The statements of a [`PostgresStore`](super::PostgresStore), one per operation, each
//! atomic on its own (no client-side transaction anywhere).
//!
//! - create: one call of the schema's `create_pending` function (advisory lock, dedup, both
//!   bounds, insert, in the statement's own transaction);
//! - complete, cancel: one `UPDATE … WHERE id = $1 AND state = 'open' AND expires_at > now
//!   … RETURNING`, which also `pg_notify`s (unless the wake-up is deferred); only when it
//!   changed nothing, a second statement reads the row to say why;
//! - clear, purge: one `DELETE … RETURNING` that notifies each id it deleted.

use std::sync::Arc;

use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgPool, Row as _};

use super::codec::{COLS, NewRow, Row};
use super::error::PgError;
use super::listener::MAX_EVENT_ROW;
use super::schema::SchemaName;
use crate::id::PendingId;
use crate::store::{CreateError, Scope, StoreError, TransitionError};

/// How many records one purge statement deletes.
pub(crate) const PURGE_CHUNK: i64 = 1_000;

/// The statements of one schema, built once per store.
#[derive(Debug)]
pub(crate) struct Sql {
    get: Arc<str>,
    create: Arc<str>,
    transition_notify: Arc<str>,
    transition_quiet: Arc<str>,
    notify: Arc<str>,
    list: Arc<str>,
    clear: Arc<str>,
    purge: Arc<str>,
    pub(crate) channel: String,
}

/// The `pg_notify` call of a statement whose changed rows are `u` (`$ch`: the channel,
/// `$full`: whether to send the row along).
fn notify_expr(ch: &str, full: &str) -> String {
    format!(
        "pg_notify({ch}, CASE WHEN {full} AND octet_length(row_to_json(u)::text) < \
         {MAX_EVENT_ROW} THEN u.id || ' ' || row_to_json(u)::text ELSE u.id END)::text"
    )
}

impl Sql {
    pub(crate) fn new(schema: &SchemaName) -> Self {
        let s = schema.as_str();
        let update = format!(
            "WITH u AS (UPDATE {s}.pendings p SET state = $3, reason = $4, finished_at = $5 \
             WHERE p.id = $1::uuid AND p.kind = $2 AND p.state = 'open' AND p.expires_at > $5 \
             AND ($6::text IS NULL OR p.namespace = $6) RETURNING {COLS}) "
        );
        let a = |s: String| Arc::from(s.as_str());
        Self {
            get: a(format!(
                "SELECT {COLS} FROM {s}.pendings p WHERE p.id = $1::uuid AND p.kind = $2"
            )),
            create: a(format!(
                "SELECT * FROM {s}.create_pending($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9, \
                 $10, $11, $12, $13, $14)"
            )),
            transition_notify: a(format!(
                "{update}SELECT u.*, {} FROM u",
                notify_expr("$7", "$8")
            )),
            transition_quiet: a(format!("{update}SELECT u.* FROM u")),
            notify: a("SELECT pg_notify($1, $2)::text".to_owned()),
            list: a(format!(
                "SELECT {COLS} FROM {s}.pendings p WHERE p.namespace = $1 AND p.kind = $2 \
                 AND p.state = 'open' AND p.expires_at > $3"
            )),
            clear: a(format!(
                "WITH u AS (DELETE FROM {s}.pendings p WHERE p.namespace = $1 AND p.kind = $2 \
                 RETURNING p.id::text AS id) SELECT u.id, pg_notify($3, u.id)::text FROM u"
            )),
            purge: a(format!(
                "WITH u AS (DELETE FROM {s}.pendings WHERE id IN (SELECT p.id FROM \
                 {s}.pendings p WHERE p.kind = $1 AND ((p.state = 'open' AND p.expires_at <= $2) \
                 OR (p.state <> 'open' AND p.finished_at <= $2)) LIMIT {PURGE_CHUNK}) \
                 RETURNING id::text AS id) SELECT u.id, pg_notify($3, u.id)::text FROM u"
            )),
            channel: schema.channel(),
        }
    }
}

fn q(sql: &Arc<str>) -> AssertSqlSafe<Arc<str>> {
    AssertSqlSafe(sql.clone())
}

/// What a create found.
#[derive(Debug)]
pub(crate) enum CreateOutcome {
    Inserted,
    Joined(Row),
    Declined(Row),
}

/// The arguments of a create besides the row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CreateArgs {
    pub(crate) now: i64,
    pub(crate) per_ns: i64,
    pub(crate) total: Option<i64>,
    /// `Some(since)`: join an open one, or answer a decline finished after `since`.
    pub(crate) dedup: Option<i64>,
}

pub(crate) async fn create(
    pool: &PgPool,
    sql: &Sql,
    kind: &str,
    new: &NewRow,
    args: CreateArgs,
) -> Result<CreateOutcome, CreateError> {
    let row: PgRow = sqlx::query(q(&sql.create))
        .bind(&new.id)
        .bind(kind)
        .bind(&new.namespace)
        .bind(&new.alias)
        .bind(&new.resource)
        .bind(&new.elicit_id)
        .bind(&new.data)
        .bind(new.created_at)
        .bind(new.expires_at)
        .bind(args.now)
        .bind(args.per_ns)
        .bind(args.total)
        .bind(args.dedup.is_some())
        .bind(args.dedup.unwrap_or(i64::MAX))
        .fetch_one(pool)
        .await
        .map_err(PgError::store)?;
    let outcome: String = row.try_get(0).map_err(PgError::store)?;
    match outcome.as_str() {
        "inserted" => Ok(CreateOutcome::Inserted),
        "duplicate" => Err(CreateError::DuplicateId),
        "full_namespace" => Err(CreateError::Capacity(Scope::Namespace)),
        "full_total" => Err(CreateError::Capacity(Scope::Total)),
        "joined" => Ok(CreateOutcome::Joined(
            Row::read(&row, 1).map_err(PgError::store)?,
        )),
        "declined" => Ok(CreateOutcome::Declined(
            Row::read(&row, 1).map_err(PgError::store)?,
        )),
        _ => Err(PgError::malformed("create outcome").into()),
    }
}

pub(crate) async fn get(
    pool: &PgPool,
    sql: &Sql,
    kind: &str,
    id: PendingId,
) -> Result<Option<Row>, StoreError> {
    let row = sqlx::query(q(&sql.get))
        .bind(id.to_string())
        .bind(kind)
        .fetch_optional(pool)
        .await
        .map_err(PgError::store)?;
    row.map(|r| Row::read(&r, 0).map_err(PgError::store))
        .transpose()
}

/// A transition to `state` (`completed` or `cancelled`, with `reason`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Move<'a> {
    pub(crate) id: PendingId,
    pub(crate) state: &'static str,
    pub(crate) reason: Option<&'static str>,
    pub(crate) expect: Option<&'a str>,
    pub(crate) now: i64,
    /// Notify in the statement (else the caller wakes later).
    pub(crate) notify: bool,
    /// Send the row in the event (zero retention).
    pub(crate) with_row: bool,
}

pub(crate) async fn transition(
    pool: &PgPool,
    sql: &Sql,
    kind: &str,
    m: Move<'_>,
) -> Result<Row, TransitionError> {
    let id = m.id.to_string();
    let stmt = if m.notify {
        &sql.transition_notify
    } else {
        &sql.transition_quiet
    };
    let mut query = sqlx::query(q(stmt))
        .bind(&id)
        .bind(kind)
        .bind(m.state)
        .bind(m.reason)
        .bind(m.now)
        .bind(m.expect);
    if m.notify {
        query = query.bind(&sql.channel).bind(m.with_row);
    }
    let changed = query.fetch_optional(pool).await.map_err(PgError::store)?;
    if let Some(row) = changed {
        return Ok(Row::read(&row, 0).map_err(PgError::store)?);
    }
    // Nothing changed: say why, from the row as it is now (a fresh snapshot, so a
    // concurrent winner's commit is seen).
    let Some(row) = get(pool, sql, kind, m.id).await? else {
        return Err(TransitionError::NotFound);
    };
    if !row.is_open_at(m.now) {
        return Err(TransitionError::Finished(row.finished_as()));
    }
    if m.expect.is_some_and(|ns| ns != row.namespace) {
        return Err(TransitionError::NamespaceMismatch);
    }
    // Open now, yet the update did not apply: it was reopened? Rows never reopen, so this
    // is a store that changed underneath; report it as a backend answer that cannot be used.
    Err(PgError::malformed("transition").into())
}

/// Sends the change event of `id` (for a deferred wake-up), with `row` when given.
pub(crate) async fn notify(
    pool: &PgPool,
    sql: &Sql,
    id: PendingId,
    row: Option<&Row>,
) -> Result<(), StoreError> {
    let mut payload = id.to_string();
    if let Some(json) = row.and_then(|r| serde_json::to_string(r).ok())
        && json.len() < usize::try_from(MAX_EVENT_ROW).unwrap_or(0)
    {
        payload.push(' ');
        payload.push_str(&json);
    }
    sqlx::query(q(&sql.notify))
        .bind(&sql.channel)
        .bind(payload)
        .execute(pool)
        .await
        .map_err(PgError::store)?;
    Ok(())
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

/// Deletes every record of `namespace`; returns the ids deleted.
pub(crate) async fn clear(
    pool: &PgPool,
    sql: &Sql,
    kind: &str,
    namespace: &str,
) -> Result<Vec<PendingId>, StoreError> {
    let rows = sqlx::query(q(&sql.clear))
        .bind(namespace)
        .bind(kind)
        .bind(&sql.channel)
        .fetch_all(pool)
        .await
        .map_err(PgError::store)?;
    ids(&rows)
}

/// Deletes up to [`PURGE_CHUNK`] records whose retention ended by `cutoff`; their ids.
pub(crate) async fn purge_chunk(
    pool: &PgPool,
    sql: &Sql,
    kind: &str,
    cutoff: i64,
) -> Result<Vec<PendingId>, StoreError> {
    let rows = sqlx::query(q(&sql.purge))
        .bind(kind)
        .bind(cutoff)
        .bind(&sql.channel)
        .fetch_all(pool)
        .await
        .map_err(PgError::store)?;
    ids(&rows)
}

fn ids(rows: &[PgRow]) -> Result<Vec<PendingId>, StoreError> {
    rows.iter()
        .map(|r| {
            let id: String = r.try_get(0).map_err(PgError::store)?;
            id.parse().map_err(|_| PgError::malformed("id"))
        })
        .collect()
}
