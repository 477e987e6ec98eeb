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
    pub(crate) create_batch: Arc<str>,
    pub(crate) transition_keep_batch: Arc<str>,
    pub(crate) transition_drop_batch: Arc<str>,
    pub(crate) list: Arc<str>,
    pub(crate) clear_open: Arc<str>,
    pub(crate) clear_finished: Arc<str>,
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
        // The same for several ids at once (see `batch`): `$1` the ids, `$2` the new states,
        // `$3` the reasons, `$4` each call's now, `$5` the namespaces expected (NULL: any);
        // `$6` the kind. `l` locks the rows first, in id order (found by the primary key, one
        // probe per id; the delete's own join would lock them in the order of the heap), and
        // only those the delete takes (as a single delete locks only its row); the join with
        // `x` gives each row its own call's arguments. The `counts` rows go
        // down by the number of rows each namespace lost, taken in namespace order (see
        // `decrement`).
        let delete_batch = format!(
            "WITH x AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[], \
             $5::text[]) AS x(id, state, reason, at, ns)), \
             l AS (SELECT q.id FROM {s}.pendings q JOIN x ON x.id = q.id \
             WHERE q.id = ANY($1::uuid[]) AND (q.kind = $6 AND q.state = 'open' \
             AND q.expires_at > x.at AND (x.ns IS NULL OR q.namespace = x.ns)) IS TRUE \
             ORDER BY q.id FOR UPDATE OF q), \
             d AS (DELETE FROM {s}.pendings p USING x, l WHERE p.id = l.id \
             AND p.id = x.id AND (p.kind = $6 AND p.state = 'open' AND p.expires_at > x.at \
             AND (x.ns IS NULL OR p.namespace = x.ns)) IS TRUE \
             RETURNING p.*, x.state AS n_state, x.reason AS n_reason, x.at AS n_at), \
             c AS ({}) ",
            decrement(s, "d")
        );
        let a = |s: String| Arc::from(s.as_str());
        Self {
            // $3: records that expired at or before it are past their retention (open ones,
            // and those a create at a bound moved to `finished`); $4: completed and cancelled
            // ones that finished at or before it (the same time, but with zero retention
            // WAKE_GRACE earlier: those still stored await `wake`). The row and whether it
            // is still visible (`lifecycle::visible`).
            get: a(format!(
                "SELECT {COLS}, p.expires_at > $3 FROM {s}.pendings p \
                 WHERE p.id = $1::uuid AND (p.kind = $2) IS TRUE \
                 UNION ALL SELECT {COLS}, p.finished_at > \
                 CASE WHEN p.state = 'expired' THEN $3 ELSE $4 END FROM {s}.finished p \
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
            // `create_fast` for several creates, each in another namespace (see `batch`):
            // `$1`..`$8` the rows' columns as arrays, `$9` the kind, `$10` the bound. The
            // `counts` rows are taken in namespace order, so two batches never wait on each
            // other's rows in a cycle. One row per create: its position (from 1), whether
            // its id is a finished record's, whether it was inserted.
            create_batch: a(format!(
                "WITH x AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], \
                 $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[]) \
                 WITH ORDINALITY AS x(id, namespace, alias, resource, elicit_id, data, \
                 created_at, expires_at, ord)), \
                 f AS (SELECT x.*, EXISTS (SELECT 1 FROM {s}.finished d WHERE d.id = x.id) \
                 AS dup FROM x), \
                 c AS (INSERT INTO {s}.counts AS c (kind, namespace, open) \
                 SELECT $9, f.namespace, 1 FROM f WHERE NOT f.dup AND $10 > 0 \
                 ORDER BY f.namespace \
                 ON CONFLICT (kind, namespace) DO UPDATE SET open = c.open + 1 \
                 WHERE c.open < $10 RETURNING c.namespace), \
                 i AS (INSERT INTO {s}.pendings (id, kind, namespace, alias, resource, \
                 elicit_id, data, created_at, expires_at, state) SELECT f.id, $9, f.namespace, \
                 f.alias, f.resource, f.elicit_id, f.data, f.created_at, f.expires_at, 'open' \
                 FROM f JOIN c ON c.namespace = f.namespace RETURNING id) \
                 SELECT f.ord, f.dup, f.id IN (SELECT id FROM i) FROM f"
            )),
            transition_keep_batch: a(format!(
                "{delete_batch}INSERT INTO {s}.finished AS p SELECT d.id, d.kind, d.namespace, \
                 d.alias, d.resource, d.elicit_id, d.data, d.created_at, d.expires_at, \
                 d.n_state, d.n_reason, d.n_at FROM d RETURNING {COLS}"
            )),
            transition_drop_batch: a(format!(
                "{delete_batch}SELECT d.id::text AS id, d.namespace, d.alias, d.resource, \
                 d.elicit_id, d.data, d.created_at, d.expires_at, d.n_state AS state, \
                 d.n_reason AS reason, d.n_at AS finished_at, \
                 coalesce((SELECT c.open = 0 FROM c WHERE c.namespace = d.namespace), false) \
                 FROM d"
            )),
            list: a(format!(
                "SELECT {COLS} FROM {s}.pendings p WHERE p.namespace = $1 AND p.kind = $2 \
                 AND p.expires_at > $3 AND p.state = 'open'"
            )),
            // A clear is two statements in one READ COMMITTED transaction (see `clear` in
            // `transitions`). First the namespace's open rows, locked in id order, as a batch
            // of transitions locks them (see `batch`), so a clear and a batch never wait on
            // each other in a cycle. A row a transition (or a create's move of expired rows)
            // holds is waited for, then skipped: it has left `pendings`.
            clear_open: a(format!(
                "DELETE FROM {s}.pendings p WHERE p.id IN (SELECT q.id \
                 FROM {s}.pendings q WHERE q.namespace = $1 AND q.kind = $2 ORDER BY q.id \
                 FOR UPDATE) RETURNING p.id::text"
            )),
            // Then, with a snapshot of its own (taken after the first statement, so it sees
            // the finished rows of the transitions that statement waited for), the
            // namespace's finished rows, and its `counts` row lowered by `$3`, the open rows
            // the first statement deleted (untouched when none). `c` reads `f` to the end
            // before it locks the `counts` row, so the finished rows are locked first, as
            // `forget` locks them (a finished row, then the `counts` row).
            clear_finished: a(format!(
                "WITH f AS (DELETE FROM {s}.finished p WHERE p.namespace = $1 \
                 AND p.kind = $2 RETURNING p.id), \
                 c AS (UPDATE {s}.counts c SET open = c.open - $3 \
                 WHERE c.kind = $2 AND c.namespace = $1 AND $3 > 0 \
                 AND (SELECT count(*) FROM f) >= 0) \
                 SELECT id::text FROM f"
            )),
            // Purges run one at a time (their `counts` updates would deadlock otherwise).
            purge_lock: a(format!(
                "SELECT pg_advisory_xact_lock(hashtextextended('oob:{s}:purge', 0))::text"
            )),
            // $2: records that expired at or before it go (open or moved); $3: completed
            // and cancelled ones that finished at or before it (at or before $2: with zero
            // retention WAKE_GRACE earlier, see `get`).
            purge: a(format!(
                "WITH o AS (DELETE FROM {s}.pendings WHERE id IN (SELECT p.id FROM \
                 {s}.pendings p WHERE p.kind = $1 AND p.expires_at <= $2 LIMIT {PURGE_CHUNK} \
                 FOR UPDATE SKIP LOCKED) RETURNING id, kind, namespace), \
                 c AS ({}), \
                 f AS (DELETE FROM {s}.finished WHERE id IN (SELECT p.id FROM \
                 {s}.finished p WHERE p.kind = $1 AND p.finished_at <= $2 \
                 AND (p.finished_at <= $3 OR p.state = 'expired') \
                 LIMIT {PURGE_CHUNK} FOR UPDATE SKIP LOCKED) RETURNING id, namespace) \
                 SELECT id::text, namespace FROM o UNION ALL SELECT id::text, namespace FROM f",
                decrement(s, "o")
            )),
            // The `counts` rows of these namespaces that are zero (a missing row is zero:
            // the next create makes it again). A concurrent create holding the row lock
            // made it non-zero by the time this reads it again, and keeps it.
            // Rows another statement holds are skipped (a create is raising them, or a batch
            // is lowering them: the next purge sees them again), so this never waits and
            // never takes part in a cycle; a plain delete would lock them in table order.
            drop_counts: a(format!(
                "DELETE FROM {s}.counts c USING (SELECT z.kind, z.namespace FROM {s}.counts z \
                 WHERE z.kind = $1 AND z.namespace = ANY($2::text[]) AND z.open = 0 \
                 FOR UPDATE SKIP LOCKED) z \
                 WHERE c.kind = z.kind AND c.namespace = z.namespace AND c.open = 0"
            )),
            channel: schema.channel(),
        }
    }
}

/// The statement that lowers the `counts` rows of the namespaces by how many rows of the
/// CTE `rows` (columns `kind`, `namespace`) each has; returns each row's namespace and new
/// count. Rows are taken in namespace order, as the batched create takes them, so statements
/// that each lock several `counts` rows never wait on each other in a cycle (an `UPDATE …
/// FROM` locks them in whatever order its join produces). A namespace without a `counts` row
/// is left without one (as an `UPDATE` would): the `EXISTS` keeps the insert from making one.
fn decrement(s: &str, rows: &str) -> String {
    format!(
        "INSERT INTO {s}.counts AS c (kind, namespace, open) SELECT g.kind, g.namespace, -g.n \
         FROM (SELECT kind, namespace, count(*) AS n FROM {rows} GROUP BY 1, 2) g \
         WHERE EXISTS (SELECT 1 FROM {s}.counts e WHERE e.kind = g.kind \
         AND e.namespace = g.namespace) ORDER BY g.namespace \
         ON CONFLICT (kind, namespace) DO UPDATE SET open = c.open + excluded.open \
         RETURNING c.namespace, c.open"
    )
}

pub(crate) fn q(sql: &Arc<str>) -> AssertSqlSafe<Arc<str>> {
    AssertSqlSafe(sql.clone())
}
