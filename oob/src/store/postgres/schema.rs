//! The Postgres schema: its name, the versioned migrations, and [`migrate`].
//!
//! Everything lives in one Postgres schema (default [`DEFAULT_SCHEMA`]), so a service can
//! keep several independent sets of tables in one database (one per schema name) and drop
//! them with one `DROP SCHEMA … CASCADE`. The schema holds:
//!
//! | object | what |
//! |--------|------|
//! | `migrations` | one row per applied migration (its version and when) |
//! | `pendings` | one row per open pending (or expired, until purged), keyed by its UUID |
//! | `finished` | one row per finished pending (expired ones once moved out), for its retention |
//! | `counts` | per kind and namespace, the rows in `pendings` (the namespace bound); gone at 0 |
//! | `vault` | one row per vault entry, keyed by namespace and key |
//! | `create_pending(…)` | the create function: advisory lock, dedup, both bounds, insert |
//!
//! A `counts` row at zero is deleted by the next clear or purge of its namespace (a
//! zero-retention store remembers namespaces its transitions emptied until its next purge).
//!
//! The migrations are the files `migrations/<n>.sql` next to this module (`n` moves a
//! schema from version `n - 1` to `n`).
//!
//! Migrations run only when the service calls [`migrate`] (or
//! [`PostgresStore::migrate`](super::PostgresStore::migrate)); they take a transaction-scoped
//! advisory lock, so replicas starting together migrate once.

use sqlx::PgPool;

use super::error::PgError;
use crate::store::StoreError;

/// The default Postgres schema name.
pub const DEFAULT_SCHEMA: &str = "oob";

/// The schema version this build writes.
pub const SCHEMA_VERSION: i32 = 5;

/// The longest schema name accepted: the notification channel (`<schema>_events`) must fit
/// Postgres' 63-byte identifier limit.
pub const MAX_SCHEMA_LEN: usize = 48;

/// A validated schema name: 1 to [`MAX_SCHEMA_LEN`] bytes of lowercase ASCII letters, digits
/// and `_`, not starting with a digit (so it is used unquoted and case never matters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaName(String);

/// A schema name that is not `[a-z_][a-z0-9_]{0,47}`.
#[derive(Debug, thiserror::Error)]
#[error("invalid postgres schema name (expected [a-z_][a-z0-9_]*, at most {MAX_SCHEMA_LEN} bytes)")]
pub struct BadSchemaName;

impl SchemaName {
    /// Validates `name`.
    ///
    /// # Errors
    /// [`BadSchemaName`] when it is empty, too long, or has other characters.
    pub fn new(name: &str) -> Result<Self, BadSchemaName> {
        let ok = !name.is_empty()
            && name.len() <= MAX_SCHEMA_LEN
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            Err(BadSchemaName)
        }
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The channel the schema's change events are sent on.
    pub(crate) fn channel(&self) -> String {
        format!("{}_events", self.0)
    }
}

impl Default for SchemaName {
    fn default() -> Self {
        Self(DEFAULT_SCHEMA.to_owned())
    }
}

/// Migration `i` moves a schema from version `i` to `i + 1`. `{s}` is the schema name.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/1.sql"),
    include_str!("migrations/2.sql"),
    include_str!("migrations/3.sql"),
    include_str!("migrations/4.sql"),
    include_str!("migrations/5.sql"),
];

/// Brings the schema `schema` of the pool's database to [`SCHEMA_VERSION`], creating it if
/// needed, in one transaction under an advisory lock (replicas migrating at once wait for
/// each other; the second finds nothing to do). Returns the version it found.
///
/// Call it once at start-up, before the store or vault is used (they do not migrate by
/// themselves: schema changes stay under the service's control).
///
/// # Errors
/// The database failed, or the schema was written by a newer version of this library
/// ([`PgError::SchemaTooNew`]).
pub async fn migrate(pool: &PgPool, schema: &SchemaName) -> Result<i32, StoreError> {
    let s = schema.as_str();
    let mut tx = pool.begin().await.map_err(PgError::store)?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("oob-migrate:{s}"))
        .execute(&mut *tx)
        .await
        .map_err(PgError::store)?;
    let setup = format!(
        "CREATE SCHEMA IF NOT EXISTS {s}; \
         CREATE TABLE IF NOT EXISTS {s}.migrations (version integer PRIMARY KEY, \
         applied_at timestamptz NOT NULL DEFAULT now())"
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(setup))
        .execute(&mut *tx)
        .await
        .map_err(PgError::store)?;
    let found: i32 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COALESCE(max(version), 0) FROM {s}.migrations"
    )))
    .fetch_one(&mut *tx)
    .await
    .map_err(PgError::store)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::backend(PgError::SchemaTooNew { found }));
    }
    let start = usize::try_from(found).unwrap_or(0);
    for (i, step) in MIGRATIONS.iter().enumerate().skip(start) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(step.replace("{s}", s)))
            .execute(&mut *tx)
            .await
            .map_err(PgError::store)?;
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {s}.migrations (version) VALUES ($1)"
        )))
        .bind(version)
        .execute(&mut *tx)
        .await
        .map_err(PgError::store)?;
    }
    tx.commit().await.map_err(PgError::store)?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_lowercase_identifiers() {
        for ok in ["oob", "_x", "tenant_1", &"a".repeat(MAX_SCHEMA_LEN)] {
            assert!(SchemaName::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "Oob",
            "a-b",
            "a b",
            "a\"b",
            "a;drop",
            "é",
            &"a".repeat(MAX_SCHEMA_LEN + 1),
        ] {
            assert!(SchemaName::new(bad).is_err(), "{bad}");
        }
        assert_eq!(SchemaName::default().channel(), "oob_events");
    }

    #[test]
    fn one_migration_per_version() {
        assert_eq!(
            MIGRATIONS.len(),
            usize::try_from(SCHEMA_VERSION).expect("positive")
        );
    }

    #[test]
    fn the_channel_fits_an_identifier() {
        let longest = SchemaName::new(&"a".repeat(MAX_SCHEMA_LEN)).expect("valid");
        assert!(longest.channel().len() <= 63);
    }
}
