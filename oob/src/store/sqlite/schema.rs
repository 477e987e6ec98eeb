//! The table layout, its version and its migrations.

use rusqlite::Connection;

use super::super::StoreError;

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 7;

/// Schema migrations: entry `i` moves a database from version `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE oob_pendings (
        id          BLOB PRIMARY KEY NOT NULL,
        namespace   TEXT NOT NULL,
        kind        TEXT NOT NULL,
        alias       TEXT,
        resource    TEXT,
        elicit_id   TEXT,
        data        TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        state       TEXT NOT NULL,
        reason      TEXT,
        finished_at INTEGER
    );
    CREATE INDEX oob_pendings_ns_state ON oob_pendings (namespace, state, kind, expires_at);
    CREATE INDEX oob_pendings_expires ON oob_pendings (expires_at);
    CREATE INDEX oob_pendings_finished ON oob_pendings (finished_at)
        WHERE finished_at IS NOT NULL;
    CREATE TABLE oob_vault (
        namespace TEXT NOT NULL,
        key       TEXT NOT NULL,
        value     TEXT NOT NULL,
        PRIMARY KEY (namespace, key)
    ) WITHOUT ROWID;
",
    "
    ALTER TABLE oob_vault ADD COLUMN written_at INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE oob_vault ADD COLUMN expires_at INTEGER;
    ALTER TABLE oob_vault ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX oob_vault_expires ON oob_vault (expires_at) WHERE expires_at IS NOT NULL;
",
    // The open records of each namespace and kind, counted with the rows by triggers (so
    // every statement keeps them right, in any process), with a lower bound on their
    // deadlines: a create reads one row instead of counting the namespace. Rows expired
    // while counted are closed (`state = 'expired'`) by the create that finds the count at
    // its bound and `earliest <= now`, which then makes `earliest` exact again.
    "
    CREATE TABLE oob_open (
        namespace TEXT NOT NULL,
        kind      TEXT NOT NULL,
        open      INTEGER NOT NULL,
        earliest  INTEGER NOT NULL,
        PRIMARY KEY (namespace, kind)
    ) WITHOUT ROWID;
    INSERT INTO oob_open (namespace, kind, open, earliest)
        SELECT namespace, kind, COUNT(*), MIN(expires_at) FROM oob_pendings
        WHERE state = 'open' GROUP BY namespace, kind;
    CREATE TRIGGER oob_open_insert AFTER INSERT ON oob_pendings WHEN NEW.state = 'open'
    BEGIN
        INSERT INTO oob_open (namespace, kind, open, earliest)
            VALUES (NEW.namespace, NEW.kind, 1, NEW.expires_at)
            ON CONFLICT (namespace, kind)
            DO UPDATE SET open = open + 1, earliest = MIN(earliest, excluded.earliest);
    END;
    CREATE TRIGGER oob_open_close AFTER UPDATE OF state ON oob_pendings
        WHEN OLD.state = 'open' AND NEW.state <> 'open'
    BEGIN
        UPDATE oob_open SET open = open - 1
            WHERE namespace = OLD.namespace AND kind = OLD.kind;
    END;
    CREATE TRIGGER oob_open_delete AFTER DELETE ON oob_pendings WHEN OLD.state = 'open'
    BEGIN
        UPDATE oob_open SET open = open - 1
            WHERE namespace = OLD.namespace AND kind = OLD.kind;
    END;
",
    // The open records of each kind in the whole file, for the total bound: a row of
    // `oob_open` with the empty namespace (no namespace is empty), kept by the same
    // triggers in the same statements, so a create or transition writes no page more. The
    // open rows indexed by kind and deadline (partial: they leave it when they finish), so
    // the create that finds the total at its bound with a deadline passed closes the expired
    // rows and finds the next deadline without reading finished ones. That index replaces
    // the one on `expires_at` alone: purge finds open rows past their deadline through it,
    // and closed ones (rows closed as expired now carry `finished_at = expires_at`) through
    // `finished_at`. The counts are recounted from the rows.
    "
    DROP INDEX oob_pendings_expires;
    CREATE INDEX oob_pendings_open ON oob_pendings (kind, expires_at) WHERE state = 'open';
    UPDATE oob_pendings SET finished_at = expires_at
        WHERE state = 'expired' AND finished_at IS NULL;
    DELETE FROM oob_open;
    INSERT INTO oob_open (namespace, kind, open, earliest)
        SELECT namespace, kind, COUNT(*), MIN(expires_at) FROM oob_pendings
        WHERE state = 'open' GROUP BY namespace, kind
        UNION ALL
        SELECT '', kind, COUNT(*), MIN(expires_at) FROM oob_pendings
        WHERE state = 'open' GROUP BY kind;
    DROP TRIGGER oob_open_insert;
    DROP TRIGGER oob_open_close;
    DROP TRIGGER oob_open_delete;
    CREATE TRIGGER oob_open_insert AFTER INSERT ON oob_pendings WHEN NEW.state = 'open'
    BEGIN
        INSERT INTO oob_open (namespace, kind, open, earliest)
            VALUES (NEW.namespace, NEW.kind, 1, NEW.expires_at),
                   ('', NEW.kind, 1, NEW.expires_at)
            ON CONFLICT (namespace, kind)
            DO UPDATE SET open = open + 1, earliest = MIN(earliest, excluded.earliest);
    END;
    CREATE TRIGGER oob_open_close AFTER UPDATE OF state ON oob_pendings
        WHEN OLD.state = 'open' AND NEW.state <> 'open'
    BEGIN
        UPDATE oob_open SET open = open - 1
            WHERE namespace IN (OLD.namespace, '') AND kind = OLD.kind;
    END;
    CREATE TRIGGER oob_open_delete AFTER DELETE ON oob_pendings WHEN OLD.state = 'open'
    BEGIN
        UPDATE oob_open SET open = open - 1
            WHERE namespace IN (OLD.namespace, '') AND kind = OLD.kind;
    END;
",
    // A process of schema v3 still running on the file after the upgrade closes expired rows
    // without `finished_at`, which purge reads for every closed row: a trigger gives such a
    // row its deadline as `finished_at` (in the same statement, whichever process ran it),
    // and the rows closed so since the v4 upgrade get it now. This build sets `finished_at`
    // with the state, so the trigger's condition is false for its own writes
    // (and a row finished otherwise without `finished_at` stays a decode error).
    "
    UPDATE oob_pendings SET finished_at = expires_at
        WHERE state = 'expired' AND finished_at IS NULL;
    CREATE TRIGGER oob_finished_at AFTER UPDATE OF state ON oob_pendings
        WHEN NEW.state = 'expired' AND NEW.finished_at IS NULL
    BEGIN
        UPDATE oob_pendings SET finished_at = NEW.expires_at WHERE id = NEW.id;
    END;
",
    // A dedup join reads its key's open rows through an index of their own, by deadline:
    // the row it returns is the first it reads (before, the namespace's open rows of every
    // key were read in deadline order until one had the key).
    "
    CREATE INDEX oob_pendings_key ON oob_pendings (namespace, kind, alias, resource, expires_at)
        WHERE state = 'open';
",
    // Purge reads the finished rows of its kind and state whose time is up, and no others:
    // the index on `finished_at` alone made it read every finished row of every kind up to
    // the cutoff, and test state and kind row by row (a purge that deleted nothing read
    // another kind's retained rows; one over completed rows read them all again per chunk).
    "
    DROP INDEX oob_pendings_finished;
    CREATE INDEX oob_pendings_finished ON oob_pendings (kind, state, finished_at)
        WHERE finished_at IS NOT NULL;
",
];

/// Brings a database to [`SCHEMA_VERSION`], in one immediate transaction. Databases written
/// by a newer version are refused.
///
/// # Errors
/// A failing statement, or a database whose version is newer than this build's.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(StoreError::backend)?;
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(StoreError::backend)?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::backend(SchemaTooNew { found: version }));
    }
    let start = usize::try_from(version).unwrap_or(0);
    for step in MIGRATIONS.iter().skip(start) {
        tx.execute_batch(step).map_err(StoreError::backend)?;
    }
    if version < SCHEMA_VERSION {
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(StoreError::backend)?;
    }
    tx.commit().map_err(StoreError::backend)
}

/// The database was written by a newer version of this library.
#[derive(Debug, thiserror::Error)]
#[error("database schema version {found} is newer than this build's ({SCHEMA_VERSION})")]
pub struct SchemaTooNew {
    /// The version found.
    pub found: i64,
}
