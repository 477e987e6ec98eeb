//! Creates of a [`PostgresStore`](super::PostgresStore): without dedup and a total bound,
//! one statement that increments the namespace's `counts` row while it is below the bound and
//! inserts (batched with other creates, see [`batch`](super::batch)); otherwise, or when
//! `counts` says full, one call of the schema's `create_pending` function (advisory lock,
//! dedup, both bounds with exact expiry, insert, in the statement's own transaction).

use std::sync::Arc;

use sqlx::Postgres;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{PgPool, Row as _};

use super::batch::{Answer, Batcher};
use super::codec::{NewRow, Row};
use super::error::PgError;
use super::sql::{Sql, q};
use crate::store::{CreateError, Scope};

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
    /// Whether finished records are kept (non-zero retention).
    pub(crate) keep: bool,
}

pub(crate) async fn create(
    pool: &PgPool,
    sql: &Sql,
    batcher: &Batcher,
    kind: &str,
    new: Arc<NewRow>,
    args: CreateArgs,
) -> Result<CreateOutcome, CreateError> {
    if args.dedup.is_none() && args.total.is_none() {
        let (dup, inserted) = match batcher.create(new.clone(), args.per_ns).await? {
            Answer::Done(created) => created,
            Answer::Alone => create_fast(pool, sql, kind, &new, args.per_ns).await?,
        };
        if dup {
            return Err(CreateError::DuplicateId);
        }
        if inserted {
            return Ok(CreateOutcome::Inserted);
        }
        // `counts` says the namespace is full; the function decides with expiry.
    }
    create_pending(pool, sql, kind, &new, args).await
}

/// Binds the row's id, kind and columns: the first nine parameters of both creates.
fn with_row<'q>(
    query: Query<'q, Postgres, PgArguments>,
    kind: &'q str,
    new: &'q NewRow,
) -> Query<'q, Postgres, PgArguments> {
    query
        .bind(&new.id)
        .bind(kind)
        .bind(&new.namespace)
        .bind(&new.alias)
        .bind(&new.resource)
        .bind(&new.elicit_id)
        .bind(&new.data)
        .bind(new.created_at)
        .bind(new.expires_at)
}

/// The one-statement create (see [`Sql`]): whether the id is a finished record's, and
/// whether the row was inserted (neither: `counts` says the namespace is full).
async fn create_fast(
    pool: &PgPool,
    sql: &Sql,
    kind: &str,
    new: &NewRow,
    per_ns: i64,
) -> Result<(bool, bool), CreateError> {
    let row = with_row(sqlx::query(q(&sql.create_fast)), kind, new)
        .bind(per_ns)
        .fetch_one(pool)
        .await;
    let row = match row {
        Ok(row) => row,
        // The id is open already (the primary key refused it; nothing was counted).
        Err(e) if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("23505") => {
            return Err(CreateError::DuplicateId);
        }
        Err(e) => return Err(PgError::store(e).into()),
    };
    let dup: bool = row.try_get(0).map_err(PgError::store)?;
    let inserted: bool = row.try_get(1).map_err(PgError::store)?;
    Ok((dup, inserted))
}

/// A create through the schema's `create_pending` function (dedup, a total bound, or a
/// namespace `counts` says is full).
async fn create_pending(
    pool: &PgPool,
    sql: &Sql,
    kind: &str,
    new: &NewRow,
    args: CreateArgs,
) -> Result<CreateOutcome, CreateError> {
    let row: PgRow = with_row(sqlx::query(q(&sql.create)), kind, new)
        .bind(args.now)
        .bind(args.per_ns)
        .bind(args.total)
        .bind(args.dedup.is_some())
        .bind(args.dedup.unwrap_or(i64::MAX))
        .bind(args.keep)
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
