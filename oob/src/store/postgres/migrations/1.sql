-- Version 1: one `pendings` table for open and finished records, and create_pending.
-- `{s}` is the schema name.
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
