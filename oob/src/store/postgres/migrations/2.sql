-- Version 2: open records in `pendings`, finished ones in `finished`, so a transition moves
-- a row (a DELETE and an INSERT) instead of updating it in place, and the indexes of open
-- records never hold finished ones (dedup and listing read open rows only); `counts` holds
-- the number of rows in `pendings` per kind and namespace, so the namespace bound is checked
-- without counting rows. create_pending checks the namespace bound before the total one.
-- `{s}` is the schema name.
CREATE TABLE {s}.finished (
    id          uuid PRIMARY KEY,
    kind        text NOT NULL,
    namespace   text NOT NULL,
    alias       text,
    resource    text,
    elicit_id   text,
    data        text NOT NULL,
    created_at  bigint NOT NULL,
    expires_at  bigint NOT NULL,
    state       text NOT NULL CHECK (state IN ('completed', 'cancelled', 'expired')),
    reason      text CHECK (reason IN ('cancelled', 'declined')),
    finished_at bigint NOT NULL
);
INSERT INTO {s}.finished
    SELECT id, kind, namespace, alias, resource, elicit_id, data, created_at, expires_at,
        state, reason, finished_at
    FROM {s}.pendings WHERE state <> 'open';
DELETE FROM {s}.pendings WHERE state <> 'open';
ALTER TABLE {s}.pendings ADD CONSTRAINT pendings_only_open CHECK (state = 'open');
DROP INDEX {s}.pendings_ns;
DROP INDEX {s}.pendings_open;
DROP INDEX {s}.pendings_finished;
-- Listing, and expired rows of a namespace (open rows of a namespace by deadline).
CREATE INDEX pendings_ns ON {s}.pendings (namespace, kind, expires_at);
-- Dedup joins: the open rows of a namespace with one alias and resource (NULL as '' here;
-- the lookup compares exactly).
CREATE INDEX pendings_key ON {s}.pendings
    (namespace, kind, (coalesce(alias, '')), (coalesce(resource, '')));
-- The total count and the purge of expired records.
CREATE INDEX pendings_expiry ON {s}.pendings (kind, expires_at);
-- The purge of finished records.
CREATE INDEX finished_purge ON {s}.finished (kind, finished_at);
-- Clearing a namespace.
CREATE INDEX finished_ns ON {s}.finished (namespace, kind);
-- The decline cooldown: the latest decline of a namespace with one alias and resource.
CREATE INDEX finished_declined ON {s}.finished
    (namespace, kind, (coalesce(alias, '')), (coalesce(resource, '')), finished_at)
    WHERE reason = 'declined';

-- Rows in `pendings` per kind and namespace, expired ones included until they are moved
-- out (by a create that finds the namespace at its bound) or purged.
CREATE TABLE {s}.counts (
    kind      text NOT NULL,
    namespace text NOT NULL,
    open      bigint NOT NULL,
    PRIMARY KEY (kind, namespace)
);
INSERT INTO {s}.counts SELECT kind, namespace, count(*) FROM {s}.pendings GROUP BY 1, 2;

-- The create that the store's one-statement create falls back to: with dedup, with a total
-- bound, or when `counts` says the namespace is full. Serialised per namespace and kind by a
-- transaction-scoped advisory lock (per kind when the total is bounded) and the namespace's
-- `counts` row; then dedup, the namespace bound (at the bound, the namespace's expired rows
-- are moved out first: to `finished` as 'expired' when `p_keep`, else deleted), the total
-- bound, the insert. VOLATILE: every statement below takes a fresh snapshot, so it sees what
-- the previous holder of the locks committed. `p_declined_since`: a decline finished after
-- it answers (the caller folds the cooldown and the retention into it). Returns one row: the
-- outcome ('inserted', 'duplicate', 'full_namespace', 'full_total', 'joined', 'declined')
-- and, for the last two, the record.
DROP FUNCTION {s}.create_pending(uuid, text, text, text, text, text, text, bigint, bigint,
    bigint, bigint, bigint, boolean, bigint);
CREATE FUNCTION {s}.create_pending(
    p_id uuid, p_kind text, p_namespace text, p_alias text, p_resource text,
    p_elicit_id text, p_data text, p_created_at bigint, p_expires_at bigint,
    p_now bigint, p_per_ns bigint, p_total bigint, p_dedup boolean, p_declined_since bigint,
    p_keep boolean
) RETURNS TABLE (
    o_outcome text, o_id text, o_namespace text, o_alias text, o_resource text,
    o_elicit_id text, o_data text, o_created_at bigint, o_expires_at bigint, o_state text,
    o_reason text, o_finished_at bigint
) LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
    n bigint;
    gone bigint;
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
        WHERE p.namespace = p_namespace AND p.kind = p_kind
          AND coalesce(p.alias, '') = coalesce(p_alias, '')
          AND coalesce(p.resource, '') = coalesce(p_resource, '')
          AND p.expires_at > p_now AND p.alias IS NOT DISTINCT FROM p_alias
          AND p.resource IS NOT DISTINCT FROM p_resource
        LIMIT 1;
        IF FOUND THEN RETURN; END IF;
        RETURN QUERY SELECT 'declined'::text, p.id::text, p.namespace, p.alias, p.resource,
            p.elicit_id, p.data, p.created_at, p.expires_at, p.state, p.reason, p.finished_at
        FROM {s}.finished p
        WHERE p.namespace = p_namespace AND p.kind = p_kind AND p.reason = 'declined'
          AND coalesce(p.alias, '') = coalesce(p_alias, '')
          AND coalesce(p.resource, '') = coalesce(p_resource, '')
          AND p.finished_at > p_declined_since
          AND p.alias IS NOT DISTINCT FROM p_alias
          AND p.resource IS NOT DISTINCT FROM p_resource
        ORDER BY p.finished_at DESC
        LIMIT 1;
        IF FOUND THEN RETURN; END IF;
    END IF;
    INSERT INTO {s}.counts (kind, namespace, open) VALUES (p_kind, p_namespace, 0)
        ON CONFLICT (kind, namespace) DO NOTHING;
    SELECT c.open INTO n FROM {s}.counts c
        WHERE c.kind = p_kind AND c.namespace = p_namespace FOR UPDATE;
    IF n >= p_per_ns THEN
        -- Expired rows no longer count: move them out (rows a transition holds are skipped).
        WITH e AS (
            DELETE FROM {s}.pendings d WHERE d.id IN (
                SELECT p.id FROM {s}.pendings p
                WHERE p.namespace = p_namespace AND p.kind = p_kind AND p.expires_at <= p_now
                FOR UPDATE SKIP LOCKED)
            RETURNING d.*
        ), k AS (
            INSERT INTO {s}.finished
            SELECT e.id, e.kind, e.namespace, e.alias, e.resource, e.elicit_id, e.data,
                e.created_at, e.expires_at, 'expired', NULL, e.expires_at
            FROM e WHERE p_keep
        )
        SELECT count(*) INTO gone FROM e;
        IF gone > 0 THEN
            UPDATE {s}.counts c SET open = c.open - gone
                WHERE c.kind = p_kind AND c.namespace = p_namespace;
            n := n - gone;
        END IF;
        IF n >= p_per_ns THEN
            RETURN QUERY SELECT 'full_namespace'::text, NULL::text, NULL::text, NULL::text,
                NULL::text, NULL::text, NULL::text, NULL::bigint, NULL::bigint, NULL::text,
                NULL::text, NULL::bigint;
            RETURN;
        END IF;
    END IF;
    IF p_total IS NOT NULL THEN
        SELECT count(*) INTO n FROM (
            SELECT 1 FROM {s}.pendings p
            WHERE p.kind = p_kind AND p.expires_at > p_now
            LIMIT p_total) t;
        IF n >= p_total THEN
            RETURN QUERY SELECT 'full_total'::text, NULL::text, NULL::text, NULL::text,
                NULL::text, NULL::text, NULL::text, NULL::bigint, NULL::bigint, NULL::text,
                NULL::text, NULL::bigint;
            RETURN;
        END IF;
    END IF;
    n := 0;
    IF NOT EXISTS (SELECT 1 FROM {s}.finished f WHERE f.id = p_id) THEN
        INSERT INTO {s}.pendings (id, kind, namespace, alias, resource, elicit_id, data,
            created_at, expires_at, state)
        VALUES (p_id, p_kind, p_namespace, p_alias, p_resource, p_elicit_id, p_data,
            p_created_at, p_expires_at, 'open')
        ON CONFLICT (id) DO NOTHING;
        IF FOUND THEN
            UPDATE {s}.counts c SET open = c.open + 1
                WHERE c.kind = p_kind AND c.namespace = p_namespace;
            n := 1;
        END IF;
    END IF;
    RETURN QUERY SELECT (CASE WHEN n = 1 THEN 'inserted' ELSE 'duplicate' END)::text,
        NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text,
        NULL::bigint, NULL::bigint, NULL::text, NULL::text, NULL::bigint;
END
$fn$;
