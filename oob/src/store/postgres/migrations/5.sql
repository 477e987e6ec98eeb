-- Version 5: a dedup join takes the joinable row with the earliest deadline (the lifecycle
-- rule `joined_before`, the same in every store); version 4 took whichever row `LIMIT 1` met
-- first. The key index gains the deadline, so the earliest unexpired row of a key is the
-- first the index gives (no sort, nothing read past it). `create_pending` is otherwise as in
-- version 3. `{s}` is the schema name.
DROP INDEX {s}.pendings_key;
CREATE INDEX pendings_key ON {s}.pendings
    (namespace, kind, (coalesce(alias, '')), (coalesce(resource, '')), expires_at);
CREATE OR REPLACE FUNCTION {s}.create_pending(
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
        ORDER BY p.expires_at
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
    -- The namespace's `counts` row, created if absent, locked and read in one statement (a
    -- purge may delete a row at zero between two statements).
    INSERT INTO {s}.counts AS c (kind, namespace, open) VALUES (p_kind, p_namespace, 0)
        ON CONFLICT (kind, namespace) DO UPDATE SET open = c.open
        RETURNING c.open INTO n;
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
            -- A refused create leaves no zero row behind (this one holds its lock).
            DELETE FROM {s}.counts c
                WHERE c.kind = p_kind AND c.namespace = p_namespace AND c.open = 0;
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
            DELETE FROM {s}.counts c
                WHERE c.kind = p_kind AND c.namespace = p_namespace AND c.open = 0;
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
    IF n = 0 THEN
        DELETE FROM {s}.counts c
            WHERE c.kind = p_kind AND c.namespace = p_namespace AND c.open = 0;
    END IF;
    RETURN QUERY SELECT (CASE WHEN n = 1 THEN 'inserted' ELSE 'duplicate' END)::text,
        NULL::text, NULL::text, NULL::text, NULL::text, NULL::text, NULL::text,
        NULL::bigint, NULL::bigint, NULL::text, NULL::text, NULL::bigint;
END
$fn$;
