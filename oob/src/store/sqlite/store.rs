//! The [`Store`] implementation: each operation one job on the connection thread.

use std::marker::PhantomData;

use rusqlite::params;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::SqliteStore;
use super::jobs::{CreateJob, CreateOutcome, TransitionJob, TransitionOutcome};
use super::row::{NewRow, Row, id_of, ms, read_rows};
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::payload::OobPayload;
use crate::state::CancelReason;
use crate::store::NamespaceScope;
use crate::store::lifecycle::{self, StateCode};
use crate::store::{
    CreateError, Created, Dedup, Limits, NewRecord, Record, Store, StoreError, Subscription,
    TransitionError, Wake,
};
use crate::time::Timestamp;

/// How many records one purge job deletes before letting other jobs run (the `LIMIT` of
/// the purge statement, a literal so the statement is not re-prepared).
const PURGE_CHUNK: usize = 1_000;

/// Deletes up to `PURGE_CHUNK` records of kind `?1` whose retention window ended by the
/// cutoff `?2`: open ones past their deadline (through the partial index of open rows) and
/// finished ones (expired ones carry their deadline as `finished_at`); completed, cancelled
/// and declined ones by the cutoff `?3`, which with zero retention lies
/// [`WAKE_GRACE`](crate::store::lifecycle::WAKE_GRACE) earlier (`lifecycle::purge_at`).
/// Each branch reads only rows it deletes: the open ones through the index of open rows by
/// kind and deadline, the finished ones through the index by kind, state and finish time.
pub(super) const PURGE: &str = "DELETE FROM oob_pendings WHERE id IN (\
     SELECT id FROM oob_pendings WHERE state = 'open' AND kind = ?1 AND expires_at <= ?2 \
     UNION ALL \
     SELECT id FROM oob_pendings WHERE kind = ?1 AND state = 'expired' AND finished_at <= ?2 \
     UNION ALL \
     SELECT id FROM oob_pendings WHERE kind = ?1 AND state IN ('completed', 'cancelled') \
     AND finished_at <= ?3 \
     LIMIT 1000) RETURNING id";

/// Deletes the finished row `?1` (zero retention, at its deferred wake-up).
const FORGET: &str = "DELETE FROM oob_pendings WHERE id = ?1 AND state <> 'open'";

impl<T> SqliteStore<T>
where
    T: OobPayload + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&rusqlite::Connection, &mut Vec<PendingId>) -> Result<R, rusqlite::Error>
            + Send
            + 'static,
    {
        self.db.call(Some(self.orphan.clone()), f).await
    }

    /// With zero retention and an immediate wake-up the row is deleted in the transition,
    /// otherwise updated. With an immediate wake-up its waiters are told on the connection
    /// thread right after the commit, before any later reader of the batch gets its reply,
    /// and whether or not the caller is still there to get its own (a caller's future
    /// dropped after the commit told nobody when the telling was left to it).
    async fn transition(
        &self,
        id: PendingId,
        to: StateCode,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        let job = TransitionJob {
            id,
            to,
            expect: expect.map(|n| n.as_str().to_owned()),
            kind: T::KIND,
            retention: self.retention,
            now,
            delete: self.retention.is_zero() && wake == Wake::Now,
            payload: PhantomData,
        };
        let notifier = self.notifier.clone();
        let told = move |out: &TransitionOutcome<T>| {
            if let TransitionOutcome::Done(done) = out
                && wake == Wake::Now
                && notifier.is_watched(id)
            {
                match done {
                    Ok(record) => notifier.notify_with(id, record.clone()),
                    Err(_) => notifier.notify(id),
                }
            }
        };
        let outcome = self
            .db
            .call_then(
                Some(self.orphan.clone()),
                move |conn, touched| job.run(conn, touched),
                told,
            )
            .await?;
        match outcome {
            TransitionOutcome::Done(record) => Ok(record?),
            TransitionOutcome::Refused(refused) => Err(refused),
        }
    }

    /// Deletes records whose retention window has ended, at most `PURGE_CHUNK` per job, and
    /// tells their waiters after the commit; returns how many.
    async fn purge_chunk(&self, cutoff: i64, finished: i64) -> Result<usize, StoreError> {
        let kind = T::KIND;
        self.remove_then_tell(move |conn| {
            conn.prepare_cached(PURGE)?
                .query_map(params![kind, cutoff, finished], |r| r.get::<_, Vec<u8>>(0))?
                .collect()
        })
        .await
    }

    /// Runs `remove`, a job deleting rows and returning their ids, and tells their waiters on
    /// the connection thread after the commit (so a caller that goes away in between does
    /// not leave them asleep); returns how many rows went.
    async fn remove_then_tell<F>(&self, remove: F) -> Result<usize, StoreError>
    where
        F: FnOnce(&rusqlite::Connection) -> Result<Vec<Vec<u8>>, rusqlite::Error> + Send + 'static,
    {
        let notifier = self.notifier.clone();
        let tell = move |ids: &Vec<Vec<u8>>| {
            if notifier.has_waiters() {
                for id in ids.iter().filter_map(|b| id_of(b)) {
                    notifier.notify(id);
                }
            }
        };
        let ids = self
            .db
            .call_then(
                Some(self.orphan.clone()),
                move |conn, touched| {
                    let ids = remove(conn)?;
                    touched.extend(ids.iter().filter_map(|b| id_of(b)));
                    Ok(ids)
                },
                tell,
            )
            .await?;
        Ok(ids.len())
    }
}

impl<T> Store<T> for SqliteStore<T>
where
    T: OobPayload + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn decodes_before_writing(&self) -> bool {
        true
    }

    fn follows_refusal_order(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn retention(&self) -> std::time::Duration {
        Self::retention(self)
    }

    async fn create(
        &self,
        new_record: &NewRecord<T>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> Result<Created<T>, CreateError> {
        let job = CreateJob {
            row: NewRow::encode(new_record.record())?,
            kind: T::KIND,
            limits,
            dedup,
            retention: self.retention,
            now,
        };
        let created = self
            .db
            .call_unless_gone(Some(self.orphan.clone()), move |conn, _| job.run(conn));
        match created.await? {
            CreateOutcome::Inserted => Ok(Created::Inserted),
            CreateOutcome::Joined(row) => Ok(Created::Joined(row.decode(now)?)),
            CreateOutcome::Declined(row) => Ok(Created::Declined(row.decode(now)?)),
            CreateOutcome::Duplicate => Err(CreateError::DuplicateId),
            CreateOutcome::Full(scope) => Err(CreateError::Capacity(scope)),
        }
    }

    async fn get(&self, id: PendingId, now: Timestamp) -> Result<Option<Record<T>>, StoreError> {
        let row = self
            .db
            .read(move |conn| Row::by_id(conn, &id.as_bytes()[..], T::KIND))
            .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        // Whether a read still sees it is decided before its payload is decoded: a row past
        // its window is gone, also to a version of `T` that cannot read its payload. (A row
        // whose other columns do not decode fails in `decode`, which reads its state the
        // same way.)
        if row
            .checked_state_at(now)
            .is_some_and(|s| !lifecycle::visible(s, self.retention, now))
        {
            return Ok(None);
        }
        row.decode(now).map(Some)
    }

    async fn complete(
        &self,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        self.transition(id, StateCode::Completed, expect, now, wake)
            .await
    }

    /// Tells the waiters of the record, then, with zero retention, deletes its row and
    /// returns once that committed: in this order a reader never finds it missing before
    /// its event, and once `wake` returned no store on the file (another process) reads it.
    async fn wake(&self, record: &Record<T>) -> Result<(), StoreError> {
        if self.notifier.has_waiters() {
            self.notifier.notify_with(record.id, record.clone());
        }
        if !self.retention.is_zero() {
            return Ok(());
        }
        let id = record.id;
        self.db
            .call(None, move |conn, _| {
                conn.prepare_cached(FORGET)?
                    .execute(params![&id.as_bytes()[..]])
                    .map(drop)
            })
            .await
    }

    async fn cancel(
        &self,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> Result<Record<T>, TransitionError> {
        self.transition(id, StateCode::of_cancel(reason), expect, now, Wake::Now)
            .await
    }

    async fn list_namespace(
        &self,
        scope: NamespaceScope<'_>,
        now: Timestamp,
    ) -> Result<Vec<Record<T>>, StoreError> {
        let namespace = scope.namespace();
        let ns = namespace.as_str().to_owned();
        let now_ms = ms(now);
        let rows = self
            .db
            .read(move |conn| {
                read_rows(
                    &mut conn.prepare_cached(concat!(
                        "SELECT ",
                        cols!(),
                        " FROM oob_pendings WHERE namespace = ?1 AND \
                         state = 'open' AND kind = ?2 AND expires_at > ?3"
                    ))?,
                    params![ns, T::KIND, now_ms],
                )
            })
            .await?;
        rows.into_iter().map(|r| r.decode(now)).collect()
    }

    async fn clear_namespace(&self, scope: NamespaceScope<'_>) -> Result<usize, StoreError> {
        let namespace = scope.namespace();
        let ns = namespace.as_str().to_owned();
        self.remove_then_tell(move |conn| {
            conn.prepare_cached(
                "DELETE FROM oob_pendings WHERE namespace = ?1 AND kind = ?2 RETURNING id",
            )?
            .query_map(params![ns, T::KIND], |r| r.get::<_, Vec<u8>>(0))?
            .collect()
        })
        .await
    }

    async fn purge(&self, now: Timestamp) -> Result<usize, StoreError> {
        let now_ms = ms(now);
        let ret = i64::try_from(self.retention.as_millis()).unwrap_or(i64::MAX);
        if ret > now_ms {
            return Ok(0);
        }
        let cutoff = now_ms - ret;
        // Completed, cancelled and declined records (`lifecycle::purge_at`): with zero
        // retention, those still here await their wake-up.
        let finished = if self.retention.is_zero() {
            let grace = i64::try_from(lifecycle::WAKE_GRACE.as_millis()).unwrap_or(i64::MAX);
            now_ms.saturating_sub(grace)
        } else {
            cutoff
        };
        let mut total = 0;
        loop {
            let n = self.purge_chunk(cutoff, finished).await?;
            total += n;
            if n < PURGE_CHUNK {
                // Forget the counts of namespaces with nothing open.
                self.call(|conn, _| {
                    conn.prepare_cached("DELETE FROM oob_open WHERE open <= 0")?
                        .execute([])
                })
                .await?;
                return Ok(total);
            }
        }
    }

    async fn subscribe(&self, id: PendingId) -> Result<Subscription<T>, StoreError> {
        Ok(self.notifier.subscribe(id))
    }
}
