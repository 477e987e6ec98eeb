//! The jobs that run the [lifecycle rules](crate::store::lifecycle) on the connection thread,
//! inside the immediate transaction of its batch (a writing job never runs outside one, see
//! `batch`): create (dedup, cooldown, both bounds, insert) and the transitions. Nothing
//! else writes the file between a job's reads and its write, in this process or another.

use std::marker::PhantomData;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, ToSql, params};
use serde::de::DeserializeOwned;

use super::row::{NewRow, Row, finished_as, ms, state_columns};
use crate::id::PendingId;
use crate::store::lifecycle::{self, StateCode};
use crate::store::{Dedup, Limits, Record, Scope, StoreError, TransitionError};
use crate::time::Timestamp;

/// What a create job found.
#[allow(clippy::large_enum_variant)] // moved once, from the thread to the caller
pub(super) enum CreateOutcome {
    Inserted,
    Joined(Row),
    Declined(Row),
    Duplicate,
    Full(Scope),
}

/// What a transition job found.
#[allow(clippy::large_enum_variant)] // moved once, from the thread to the caller
pub(super) enum TransitionOutcome<T> {
    /// The record as it is now, transitioned by the job; or, when the row does not decode
    /// (its payload as this `T` included), the decode error a get answers, with nothing
    /// written.
    Done(Result<Record<T>, StoreError>),
    /// Refused, with nothing written (see `lifecycle::refusal`).
    Refused(TransitionError),
}

/// What a create needs on the connection thread.
#[derive(Debug)]
pub(super) struct CreateJob {
    pub(super) row: NewRow,
    pub(super) kind: &'static str,
    pub(super) limits: Limits,
    pub(super) dedup: Dedup,
    pub(super) retention: Duration,
    pub(super) now: Timestamp,
}

/// An open count kept by the triggers, with a lower bound on the deadlines of the rows it
/// counts: its row (`read`, giving `open, earliest`), the statement closing its expired
/// rows (`close`, the keys then `now`) and the one making `earliest` exact (`earliest`).
/// Every statement takes the counter's keys as `?1` … `?k`.
pub(super) struct Counter {
    pub(super) read: &'static str,
    pub(super) close: &'static str,
    pub(super) earliest: &'static str,
}

/// The open records of one namespace and kind (`oob_open`; keys: namespace, kind), read
/// through the `(namespace, state, kind, expires_at)` index.
pub(super) const NAMESPACE: Counter = Counter {
    read: "SELECT open, earliest FROM oob_open WHERE namespace = ?1 AND kind = ?2",
    close: "UPDATE oob_pendings SET state = 'expired', finished_at = expires_at \
            WHERE namespace = ?1 AND state = 'open' AND kind = ?2 AND expires_at <= ?3",
    earliest: "UPDATE oob_open SET earliest = COALESCE((SELECT MIN(expires_at) \
               FROM oob_pendings WHERE namespace = ?1 AND state = 'open' AND kind = ?2), \
               9223372036854775807) WHERE namespace = ?1 AND kind = ?2",
};

/// The open records of one kind in the file (the `oob_open` row of the empty namespace;
/// key: kind), read through the partial index of open rows by `(kind, expires_at)`.
pub(super) const TOTAL: Counter = Counter {
    read: "SELECT open, earliest FROM oob_open WHERE namespace = '' AND kind = ?1",
    close: "UPDATE oob_pendings SET state = 'expired', finished_at = expires_at \
            WHERE state = 'open' AND kind = ?1 AND expires_at <= ?2",
    earliest: "UPDATE oob_open SET earliest = COALESCE((SELECT MIN(expires_at) \
               FROM oob_pendings WHERE state = 'open' AND kind = ?1), 9223372036854775807) \
               WHERE namespace = '' AND kind = ?1",
};

impl CreateJob {
    /// Runs the create. It issues one writing statement (the insert) unless it finds a
    /// count at its bound with a deadline passed: then it closes the expired rows first,
    /// under a savepoint that is rolled back if the create then fails, so a failing create
    /// leaves no write behind (the closing is kept with any outcome: it is true whatever
    /// follows).
    pub(super) fn run(&self, conn: &Connection) -> rusqlite::Result<CreateOutcome> {
        let mut saved = false;
        let out = self.decide(conn, &mut saved);
        if !saved {
            return out;
        }
        let end = match &out {
            Ok(_) => exec(conn, "RELEASE oob_close"),
            Err(_) => {
                exec(conn, "ROLLBACK TO oob_close").and_then(|_| exec(conn, "RELEASE oob_close"))
            }
        };
        if end.is_err() && !conn.is_autocommit() {
            // The closing cannot be undone alone: the batch's transaction goes with it (the
            // connection thread then fails the whole batch).
            let _ = conn.execute_batch("ROLLBACK");
        }
        let out = out?;
        end.map(|_| out)
    }

    fn decide(&self, conn: &Connection, saved: &mut bool) -> rusqlite::Result<CreateOutcome> {
        let (new, kind, now) = (&self.row, self.kind, ms(self.now));
        if let Dedup::Join { decline_cooldown } = self.dedup {
            let open = conn
                .prepare_cached(concat!(
                    "SELECT ",
                    cols!(),
                    // The key's open row with the earliest deadline (lifecycle's
                    // `joined_before`), the first the key index gives: nothing else read.
                    " FROM oob_pendings INDEXED BY oob_pendings_key WHERE namespace = ?1 \
                     AND state = 'open' AND kind = ?2 AND alias IS ?3 AND resource IS ?4 \
                     AND expires_at > ?5 ORDER BY expires_at LIMIT 1"
                ))?
                .query_row(
                    params![new.namespace, kind, new.alias, new.resource, now],
                    Row::read,
                )
                .optional()?;
            if let Some(row) = open {
                return Ok(CreateOutcome::Joined(row));
            }
            // The latest decline of the key (the index orders them); it answers while it
            // cools down and is still visible.
            let declined = conn
                .prepare_cached(concat!(
                    "SELECT ",
                    cols!(),
                    " FROM oob_pendings WHERE namespace = ?1 AND state = 'cancelled' \
                     AND kind = ?2 AND alias IS ?3 AND resource IS ?4 AND reason = 'declined' \
                     ORDER BY finished_at DESC LIMIT 1"
                ))?
                .query_row(
                    params![new.namespace, kind, new.alias, new.resource],
                    Row::read,
                )
                .optional()?;
            if let Some(row) = declined
                && let Some(state) = row.state_at(self.now)
                && lifecycle::visible(state, self.retention, self.now)
                && lifecycle::cooling(state, decline_cooldown, self.now).is_some()
            {
                return Ok(CreateOutcome::Declined(row));
            }
        }
        // Inside the batch's immediate transaction nothing else writes between the counts
        // and the insert.
        if let Err(scope) = self.fits(conn, saved) {
            return Ok(CreateOutcome::Full(scope?));
        }
        Self::inserted(new.insert(conn, kind))
    }

    /// The bound the insert would exceed, namespace first (each count reads one row kept by
    /// the triggers, see [`Counter`]).
    fn fits(&self, conn: &Connection, saved: &mut bool) -> Result<(), rusqlite::Result<Scope>> {
        let (ns, kind): (&dyn ToSql, &dyn ToSql) = (&self.row.namespace, &self.kind);
        let in_namespace = self
            .count(
                conn,
                &NAMESPACE,
                &[ns, kind],
                self.limits.per_namespace,
                saved,
            )
            .map_err(Err)?;
        let total = if in_namespace >= self.limits.per_namespace || self.limits.total == usize::MAX
        {
            0
        } else {
            self.count(conn, &TOTAL, &[kind], self.limits.total, saved)
                .map_err(Err)?
        };
        lifecycle::capacity(in_namespace, total, self.limits).map_err(Ok)
    }

    /// The open, unexpired records a counter counts, exact at least up to `bound`: its row,
    /// and when that is at the bound with a deadline passed, the expired rows closed first
    /// (`state = 'expired'`, `finished_at` its deadline; the triggers decrement the counts) and `earliest` made exact.
    /// Each expired row is closed once, so the cost stays constant per create.
    fn count(
        &self,
        conn: &Connection,
        counter: &Counter,
        keys: &[&dyn ToSql],
        bound: usize,
        saved: &mut bool,
    ) -> rusqlite::Result<usize> {
        let now = ms(self.now);
        let read = || {
            conn.prepare_cached(counter.read)?
                .query_row(keys, |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
                .optional()
                .map(|row| row.unwrap_or((0, i64::MAX)))
        };
        let (mut open, earliest) = read()?;
        if usize::try_from(open).unwrap_or(0) >= bound && earliest <= now {
            if !*saved {
                exec(conn, "SAVEPOINT oob_close")?;
                *saved = true;
            }
            conn.prepare_cached(counter.close)?
                .execute(&[keys, &[&now as &dyn ToSql]].concat()[..])?;
            conn.prepare_cached(counter.earliest)?.execute(keys)?;
            open = read()?.0;
        }
        Ok(usize::try_from(open).unwrap_or(0))
    }

    fn inserted(result: rusqlite::Result<usize>) -> rusqlite::Result<CreateOutcome> {
        match result {
            Ok(0) => Ok(CreateOutcome::Full(Scope::Namespace)),
            Ok(_) => Ok(CreateOutcome::Inserted),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
            {
                Ok(CreateOutcome::Duplicate)
            }
            Err(e) => Err(e),
        }
    }
}

/// What a transition needs on the connection thread.
#[derive(Debug)]
pub(super) struct TransitionJob<T> {
    pub(super) id: PendingId,
    pub(super) to: StateCode,
    pub(super) expect: Option<String>,
    pub(super) kind: &'static str,
    pub(super) retention: Duration,
    pub(super) now: Timestamp,
    /// Delete the row instead of updating it (zero retention, waiters woken now).
    pub(super) delete: bool,
    /// The store's payload type, which the job decodes the row's payload as.
    pub(super) payload: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> TransitionJob<T> {
    /// Reads, then writes guarded by `state = 'open'`: the connection thread runs one job at
    /// a time inside an immediate transaction, so nothing changes the row in between. Cheaper
    /// than `RETURNING`, which buffers its rows in a temporary table.
    pub(super) fn run(
        self,
        conn: &Connection,
        touched: &mut Vec<PendingId>,
    ) -> rusqlite::Result<TransitionOutcome<T>> {
        let key = &self.id.as_bytes()[..];
        let now = ms(self.now);
        let Some(mut row) = Row::by_id(conn, key, self.kind)? else {
            return Ok(TransitionOutcome::Refused(TransitionError::NotFound));
        };
        // A row that does not decode is no record to transition (nor to answer how it
        // finished): nothing is written, and the caller answers its decode error. So for a
        // payload this version of the type cannot read (another version stored it under
        // the same kind): a version that reads it can still finish it.
        let Some(state) = row.checked_state_at(self.now) else {
            return Ok(TransitionOutcome::Done(row.decode(self.now)));
        };
        let in_namespace = self.expect.as_ref().is_none_or(|ns| *ns == row.namespace);
        if let Some(refused) = lifecycle::refusal(state, self.retention, self.now, in_namespace) {
            return Ok(TransitionOutcome::Refused(refused));
        }
        // Decoded once, by the winner only, before it writes (so a version of `T` that
        // cannot read the payload finishes nothing): the record returned is built from it.
        let data = match row.payload::<T>() {
            Ok(data) => data,
            Err(e) => return Ok(TransitionOutcome::Done(Err(e))),
        };
        let (state, reason) = state_columns(self.to);
        let changed = if self.delete {
            conn.prepare_cached(
                "DELETE FROM oob_pendings WHERE id = ?1 AND state = 'open' AND expires_at > ?2",
            )?
            .execute(params![key, now])?
        } else {
            // With zero retention and a later wake-up, the row goes once the waiters were
            // told (see the store's `wake`).
            conn.prepare_cached(
                "UPDATE oob_pendings SET state = ?3, reason = ?4, finished_at = ?2 \
                 WHERE id = ?1 AND state = 'open' AND expires_at > ?2",
            )?
            .execute(params![key, now, state, reason])?
        };
        if changed == 0 {
            // Not expected inside the immediate transaction; if the guard ever refuses, say why.
            return Ok(match Row::by_id(conn, key, self.kind)? {
                None => TransitionOutcome::Refused(TransitionError::NotFound),
                Some(r) => TransitionOutcome::Refused(TransitionError::Finished(finished_as(&r))),
            });
        }
        touched.push(self.id);
        row.state = state.to_owned();
        row.reason = reason.map(str::to_owned);
        row.finished_at = Some(now);
        Ok(TransitionOutcome::Done(row.with_payload(self.now, data)))
    }
}

fn exec(conn: &Connection, sql: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute([])
}
