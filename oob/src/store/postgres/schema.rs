//! The Postgres schema: its name, the versioned migrations, and [`migrate`].
//!
//! Everything lives in one Postgres schema (default [`DEFAULT_SCHEMA`]), so a service can
//! keep several independent sets of tables in one database (one per schema name) and drop
//! them with one `DROP SCHEMA … CASCADE`. The schema holds:
//!
//! | object | what |
//! |--------|------|
//! | `migrations` | one row per applied migration (its version and when) |
//! | `pendings` | one row per pending, keyed by its UUID |
//! | `vault` | one row per vault entry, keyed by namespace and key |
//! | `create_pending(…)` | the create function: advisory lock, dedup, both bounds, insert |
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
pub const SCHEMA_VERSION: i32 = 1;

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
const MIGRATIONS: &[&str] = &[r"
CREATE TABLE {s}.pendings (
    id          uuid PRIMARY KEY,
    kind        text NOT NULL,
    namespace   text NOT NULL,
    alias       text,
    resource    text,
    elicit_id   text,
    data        text NOT NULL,
    created_at  bigint NOT NULL,
    expires_at  bigint NOT NULL,
    state       text NOT NULL CHECK (state IN ('open', 'completed', 'cancelled')),
    reason      text CHECK (reason IN ('cancelled', 'declined')),
    finished_at bigint
);
-- Namespace listing, capacity count and dedup (open), decline cooldown (cancelled).
CREATE INDEX pendings_ns ON {s}.pendings (namespace, kind, state, expires_at);
-- The total bound and the purge of expired records.
CREATE INDEX pendings_open ON {s}.pendings (kind, expires_at) WHERE state = 'open';
-- The purge of finished records.
CREATE INDEX pendings_finished ON {s}.pendings (kind, finished_at) WHERE state <> 'open';

CREATE TABLE {s}.vault (
    namespace  text NOT NULL,
    key        text NOT NULL,
    value      text NOT NULL,
    written_at bigint NOT NULL,
    expires_at bigint,
    version    bigint NOT NULL,
    PRIMARY KEY (namespace, key)
);
CREATE INDEX vault_expires ON {s}.vault (expires_at) WHERE expires_at IS NOT NULL;

-- One create, atomically: serialised per namespace and kind by a transaction-scoped
-- advisory lock (per kind when the total is bounded), then dedup, the bounds, the insert.
-- VOLATILE: every statement below takes a fresh snapshot, so it sees what the previous
-- holder of the lock committed. Returns one row: the outcome ('inserted', 'duplicate',
-- 'full_namespace', 'full_total', 'joined', 'declined') and, for the last two, the record.
CREATE FUNCTION {s}.create_pending(
    p_id uuid, p_kind text, p_namespace text, p_alias text, p_resource text,
    p_elicit_id text, p_data text, p_created_at bigint, p_expires_at bigint,
    p_now bigint, p_per_ns bigint, p_total bigint, p_dedup boolean, p_declined_since bigint
) RETURNS TABLE (
    o_outcome text, o_id text, o_namespace text, o_alias text, o_resource text,
    o_elicit_id text, o_data text, o_created_at bigint, o_expires_at bigint, o_state text,
    o_reason text, o_finished_at bigint
) LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    n bigint;
BEGIN
    IF p_total IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(hashtextextended('oob:{s}:' || p_kind, 0));
    ELSE
        PERFORM pg_advisory_xact_lock(
            hashtextextended('oob:{s}:' || p_kind || ':' || p_namespace, 0));
    END IF;
    IF p_dedup THEN
        RETURN QUERY SELECT 'joined'::text, p.id::text, p.namespace, p.alias, p.resource,
            p.elicit_id, p.data, p.created_at, p.expires_at, p.state, p.reason, p.finished_at
        FROM {s}.pendings p
        WHERE p.namespace = p_namespace AND p.kind = p_kind AND p.state = 'open'
          AND p.expires_at > p_now AND p.alias IS NOT DISTINCT FROM p_alias
          AND p.resource IS NOT DISTINCT FROM p_resource
        LIMIT 1;
        IF FOUND THEN RETURN; END IF;
        RETURN QUERY SELECT 'declined'::text, p.id::text, p.namespace, p.alias, p.resource,
            p.elicit_id, p.data, p.created_at, p.expires_at, p.state, p.reason, p.finished_at
        FROM {s}.pendings p
        WHERE p.namespace = p_namespace AND p.kind = p_kind AND p.state = 'cancelled'
          AND p.reason = 'declined' AND p.finished_at > p_declined_since
          AND p.alias IS NOT DISTINCT FROM p_alias
          AND p.resource IS NOT DISTINCT FROM p_resource
        ORDER BY p.finished_at DESC
        LIMIT 1;
        IF FOUND THEN RETURN; END IF;
    END IF;
    IF p_total IS NOT NULL THEN
        SELECT count(*) INTO n FROM (
            SELECT 1 FROM {s}.pendings p
            WHERE p.kind = p_kind AND p.state = 'open' AND p.expires_at > p_now
            LIMIT p_total) t;
        IF n >= p_total THEN
            RETURN QUERY SELECT 'full_total'::text, NULL::text, NULL::text, NULL::text, NULL::text,
                NULL::text, NULL::text, NULL::bigint, NULL::bigint, NULL::text, NULL::text,
                NULL::bigint;
            RETURN;
        END IF;
    END IF;
    SELECT count(*) INTO n FROM (
        SELECT 1 FROM {s}.pendings p
        WHERE p.namespace = p_namespace AND p.kind = p_kind AND p.state = 'open'
          AND p.expires_at > p_now
        LIMIT p_per_ns) t;
    IF n >= p_per_ns THEN
        RETURN QUERY SELECT 'full_namespace'::text, NULL::text, NULL::text, NULL::text, NULL::text,
            NULL::text, NULL::text, NULL::bigint, NULL::bigint, NULL::text, NULL::text,
            NULL::bigint;
        RETURN;
    END IF;
    INSERT INTO {s}.pendings (id, kind, namespace, alias, resource, elicit_id, data,
        created_at, expires_at, state)
    VALUES (p_id, p_kind, p_namespace, p_alias, p_resource, p_elicit_id, p_data,
        p_created_at, p_expires_at, 'open')
    ON CONFLICT (id) DO NOTHING;
    RETURN QUERY SELECT (CASE WHEN FOUND THEN 'inserted' ELSE 'duplicate' END)::text,
        NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text,
        NULL::bigint, NULL::bigint, NULL::text, NULL::text, NULL::bigint;
END
$fn$;
"];

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
    fn the_channel_fits_an_identifier() {
        let longest = SchemaName::new(&"a".repeat(MAX_SCHEMA_LEN)).expect("valid");
        assert!(longest.channel().len() <= 63);
    }
}
