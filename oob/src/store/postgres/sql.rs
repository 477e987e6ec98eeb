//! The SQL of a [`PostgresStore`](super::PostgresStore): every statement it runs on one
//! schema, built once per store (the schema name is part of the text). What each statement
//! does and why is told in [`transitions`](super::transitions), which runs them.

use std::sync::Arc;

use sqlx::AssertSqlSafe;

use super::codec::COLS;
use super::schema::SchemaName;

/// How many records one purge statement deletes from each table.
pub(crate) const PURGE_CHUNK: i64 = 1_000;

/// The columns a finished row is made of: those of the open row (`d`) and the new state.
const MOVED: &str = "d.id, d.kind, d.namespace, d.alias, d.resource, d.elicit_id, d.data, \
     d.created_at, d.expires_at, $3::text, $4::text, $5::bigint";

/// The statements of one schema, built once per store.
#[derive(Debug)]
pub(crate) struct Sql {
    pub(crate) get: Arc<str>,
    pub(crate) forget: Arc<str>,
    pub(crate) row: Arc<str>,
    pub(crate) create_fast: Arc<str>,
    pub(crate) create: Arc<str>,
    pub(crate) transition_keep: Arc<str>,
    pub(crate) transition_drop: Arc<str>,
    pub(crate) list: Arc<str>,
    pub(crate) clear: Arc<str>,
    pub(crate) purge_lock: Arc<str>,
    pub(crate) purge: Arc<str>,
    pub(crate) drop_counts: Arc<str>,
    pub(crate) channel: String,
}

impl Sql {
    pub(crate) fn new(schema: &SchemaName) -> Self {
        let s = schema.as_str();
        // In every statement on one id, only the id is a condition an index can answer (the
        // rest is wrapped in `IS TRUE`), so the planner takes the primary key: one row. With
        // plain conditions it chose `pendings_expiry` (kind, deadline) on small or freshly
        // analysed tables, and every transition read the kind's rows by deadline (dead ones
        // too) for the id (measured in the benchmark with pg_stat_user_indexes). Rows in
        // `pendings` are open (finished ones move to `finished`), and since schema version 4
        // no constraint says so: the transition and the list check the state themselves, so
        // a row another writer left there finished is never finished again nor listed.
        let delete = format!(
            "WITH d AS (DELETE FROM {s}.pendings p WHERE p.id = $1::uuid \
             AND (p.kind = $2 AND p.state = 'open' AND p.expires_at > $5 \
             AND ($6::text IS NULL OR p.namespace = $6)) IS TRUE RETURNING p.*), \
             c AS (UPDATE {s}.counts c SET open = c.open - 1 FROM d \
             WHERE c.kind = d.kind AND c.namespace = d.namespace RETURNING c.open) "
        );
        let a = |s: String| Arc::from(s.as_str());
        Self {
            // $3: open records that expired at or before it are past their retention; $4:
            // finished ones that finished at or before it (with zero retention the store
            // passes the smallest time: its finished rows are those awaiting `wake`).
            // The row and whether it is still visible (not past its retention).
            get: a(format!(
                "SELECT {COLS}, p.expires_at > $3 FROM {s}.pendings p \
                 WHERE p.id = $1::uuid AND (p.kind = $2) IS TRUE \
                 UNION ALL SELECT {COLS}, p.finished_at > $4 FROM {s}.finished p \
                 WHERE p.id = $1::uuid AND (p.kind = $2) IS TRUE LIMIT 1"
            )),
            // A record's row, open or finished, if it has one (the listener's check).
            row: a(format!(
                "SELECT {COLS} FROM {s}.pendings p \
                 WHERE p.id = $1::uuid AND (p.kind = $2) IS TRUE \
                 UNION ALL SELECT {COLS} FROM {s}.finished p \
                 WHERE p.id = $1::uuid AND (p.kind = $2) IS TRUE LIMIT 1"
            )),
            // Zero retention: the finished row a `Wake::Later` complete kept, once woken.
            // And the namespace's `counts` row if that is zero.
            forget: a(format!(
                "WITH f AS (DELETE FROM {s}.finished \
                 WHERE id = $1::uuid AND (kind = $2) IS TRUE \
                 RETURNING kind, namespace) DELETE FROM {s}.counts c USING f \
                 WHERE c.kind = f.kind AND c.namespace = f.namespace AND c.open = 0"
            )),
            // Without dedup and a total bound: the namespace's `counts` row, incremented
            // while below the bound (its row lock serialises the namespace's creates), and
            // the insert. Neither column true: `counts` says full (or the bound is zero: no
            // row is made), ask `create_pending`.
            create_fast: a(format!(
                "WITH f AS (SELECT EXISTS (SELECT 1 FROM {s}.finished WHERE id = $1::uuid) \
                 AS dup), c AS (INSERT INTO {s}.counts AS c (kind, namespace, open) \
                 SELECT $2, $3, 1 FROM f WHERE NOT f.dup AND $10 > 0 \
                 ON CONFLICT (kind, namespace) DO UPDATE SET open = c.open + 1 \
                 WHERE c.open < $10 RETURNING 1), \
                 i AS (INSERT INTO {s}.pendings (id, kind, namespace, alias, resource, \
                 elicit_id, data, created_at, expires_at, state) SELECT $1::uuid, $2, $3, $4, \
                 $5, $6, $7, $8, $9, 'open' FROM c RETURNING 1) \
                 SELECT (SELECT dup FROM f), EXISTS (SELECT 1 FROM i)"
            )),
            create: a(format!(
                "SELECT * FROM {s}.create_pending($1::uuid, $2, $3, $4, $5, $6, $7, $8, $9, \
                 $10, $11, $12, $13, $14, $15)"
            )),
            transition_keep: a(format!(
                "{delete}INSERT INTO {s}.finished AS p SELECT {MOVED} FROM d RETURNING {COLS}"
            )),
            transition_drop: a(format!(
                "{delete}SELECT d.id::text AS id, d.namespace, d.alias, d.resource, \
                 d.elicit_id, d.data, d.created_at, d.expires_at, $3::text AS state, \
                 $4::text AS reason, $5::bigint AS finished_at, \
                 coalesce((SELECT c.open = 0 FROM c), false) FROM d"
            )),
            list: a(format!(
                "SELECT {COLS} FROM {s}.pendings p WHERE p.namespace = $1 AND p.kind = $2 \
                 AND p.expires_at > $3 AND p.state = 'open'"
            )),
            clear: a(format!(
                "WITH o AS (DELETE FROM {s}.pendings p WHERE p.namespace = $1 AND p.kind = $2 \
                 RETURNING p.id), c AS (UPDATE {s}.counts c SET open = c.open - \
                 (SELECT count(*) FROM o) WHERE c.kind = $2 AND c.namespace = $1), \
                 f AS (DELETE FROM {s}.finished p WHERE p.namespace = $1 \
                 AND p.kind = $2 RETURNING p.id) \
                 SELECT id::text FROM o UNION ALL SELECT id::text FROM f"
            )),
            // Purges run one at a time (their `counts` updates would deadlock otherwise).
            purge_lock: a(format!(
                "SELECT pg_advisory_xact_lock(hashtextextended('oob:{s}:purge', 0))::text"
            )),
            // $2: open records that expired at or before it go; $3: finished ones that
            // finished at or before it (zero retention: WAKE_GRACE earlier, see `purge`).
            purge: a(format!(
                "WITH o AS (DELETE FROM {s}.pendings WHERE id IN (SELECT p.id FROM \
                 {s}.pendings p WHERE p.kind = $1 AND p.expires_at <= $2 LIMIT {PURGE_CHUNK} \
                 FOR UPDATE SKIP LOCKED) RETURNING id, kind, namespace), \
                 c AS (UPDATE {s}.counts c SET open = c.open - x.n FROM (SELECT kind, \
                 namespace, count(*) AS n FROM o GROUP BY 1, 2) x \
                 WHERE c.kind = x.kind AND c.namespace = x.namespace), \
                 f AS (DELETE FROM {s}.finished WHERE id IN (SELECT p.id FROM \
                 {s}.finished p WHERE p.kind = $1 AND p.finished_at <= $3 \
                 LIMIT {PURGE_CHUNK}) RETURNING id, namespace) \
                 SELECT id::text, namespace FROM o UNION ALL SELECT id::text, namespace FROM f"
            )),
            // The `counts` rows of these namespaces that are zero (a missing row is zero:
            // the next create makes it again). A concurrent create holding the row lock
            // made it non-zero by the time this reads it again, and keeps it.
            drop_counts: a(format!(
                "DELETE FROM {s}.counts c WHERE c.kind = $1 AND c.namespace = ANY($2::text[]) \
                 AND c.open = 0"
            )),
            channel: schema.channel(),
        }
    }
}

pub(crate) fn q(sql: &Arc<str>) -> AssertSqlSafe<Arc<str>> {
    AssertSqlSafe(sql.clone())
}
