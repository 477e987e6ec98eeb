//! The [`Store`] implementation of [`PostgresStore`]: each operation as the statements of
//! [`transitions`](super::transitions) plus the local wake-ups and change events.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::codec::{NewRow, Row, ms};
use super::create::{self, CreateArgs, CreateOutcome};
use super::transitions::{self, Lookup, PURGE_CHUNK};
use super::{EVENT_WAIT, PostgresStore};
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::payload::OobPayload;
use crate::state::CancelReason;
use crate::store::NamespaceScope;
use crate::store::lifecycle;
use crate::store::{
    CreateError, Created, Dedup, Limits, NewRecord, Record, Store, StoreError, Subscription,
    TransitionError, Wake,
};
use crate::time::Timestamp;

impl<T> Store<T> for PostgresStore<T>
where
    T: OobPayload + Serialize + DeserializeOwned + Send + Sync + 'static,
{
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn follows_refusal_order(&self) -> bool {
        true
    }

    fn retention(&self) -> std::time::Duration {
        Self::retention(self)
    }

    async fn create(
        &self,
        new: &NewRecord<T>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> Result<Created<T>, CreateError> {
        let row = std::sync::Arc::new(NewRow::encode(new.record())?);
        let now_ms = ms(now);
        let args = CreateArgs {
            now: now_ms,
            per_ns: i64::try_from(limits.per_namespace).unwrap_or(i64::MAX),
            total: i64::try_from(limits.total).ok(),
            dedup: match dedup {
                Dedup::Never => None,
                // No cooldown (under a millisecond): no decline answers (none finished
                // after the latest time; `lifecycle::cooling`), also one stamped after `now`.
                Dedup::Join { decline_cooldown } if !lifecycle::has_cooldown(decline_cooldown) => {
                    Some(i64::MAX)
                }
                // A decline answers while in its cooldown and still readable.
                Dedup::Join { decline_cooldown } => Some(
                    now_ms
                        .saturating_sub(
                            i64::try_from(decline_cooldown.as_millis()).unwrap_or(i64::MAX),
                        )
                        .max(self.cutoff(now)),
                ),
            },
            keep: !self.shared.retention.is_zero(),
        };
        let s = &self.shared;
        match create::create(&s.pool, &s.sql, &s.batcher, T::KIND, row, args).await? {
            CreateOutcome::Inserted => Ok(Created::Inserted),
            CreateOutcome::Joined(r) => Ok(Created::Joined(r.decode(now)?)),
            CreateOutcome::Declined(r) => Ok(Created::Declined(r.decode(now)?)),
        }
    }

    async fn get(&self, id: PendingId, now: Timestamp) -> Result<Option<Record<T>>, StoreError> {
        let s = &self.shared;
        // With zero retention a finished record leaves the tables before its change event
        // reaches this replica's waiters: a read that finds no row at all for a watched id
        // waits (at most EVENT_WAIT) for that event, so whoever subscribed before reading
        // sees the record or its outcome, never neither. (An expired record's row stays
        // until purged, so a read at its deadline does not wait.)
        let mut event =
            (s.retention.is_zero() && s.notifier.is_watched(id)).then(|| s.notifier.subscribe(id));
        match transitions::lookup(&s.pool, &s.sql, T::KIND, id, self.read_cutoff(now)).await? {
            Lookup::Visible(row) => row.decode(now).map(Some),
            Lookup::Hidden => Ok(None),
            Lookup::Absent => {
                if let Some(sub) = event.as_mut() {
                    let _ = tokio::time::timeout(EVENT_WAIT, sub.changed()).await;
                }
                Ok(None)
            }
        }
    }

    async fn complete(
        &self,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<T>, TransitionError> {
        self.transition(id, None, expect, now, wake).await
    }

    async fn wake(&self, record: &Record<T>) -> Result<(), StoreError> {
        let s = &self.shared;
        if s.notifier.has_waiters() {
            s.notifier.notify_with(record.id, record.clone());
        }
        let row = if s.retention.is_zero() {
            Some(Row::from_record(record)?)
        } else {
            None
        };
        self.send_finished(record.id, row.as_ref(), T::KIND);
        if s.retention.is_zero() {
            // The row the `Wake::Later` complete kept: gone once its waiters were told.
            transitions::forget(&s.pool, &s.sql, T::KIND, record.id).await?;
        }
        Ok(())
    }

    async fn cancel(
        &self,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> Result<Record<T>, TransitionError> {
        self.transition(id, Some(reason), expect, now, Wake::Now)
            .await
    }

    async fn list_namespace(
        &self,
        scope: NamespaceScope<'_>,
        now: Timestamp,
    ) -> Result<Vec<Record<T>>, StoreError> {
        let s = &self.shared;
        let ns = scope.namespace().as_str();
        transitions::list(&s.pool, &s.sql, T::KIND, ns, ms(now))
            .await?
            .into_iter()
            .map(|r| r.decode(now))
            .collect()
    }

    async fn clear_namespace(&self, scope: NamespaceScope<'_>) -> Result<usize, StoreError> {
        let s = &self.shared;
        let ns = scope.namespace().as_str();
        let ids = transitions::clear(&s.pool, &s.sql, T::KIND, ns).await?;
        self.changed(&ids);
        Ok(ids.len())
    }

    async fn purge(&self, now: Timestamp) -> Result<usize, StoreError> {
        let s = &self.shared;
        // What reads no longer see goes (with zero retention a completion kept for its
        // `wake` stays until WAKE_GRACE has passed since it finished).
        let transitions::Cutoff {
            expired: cutoff,
            finished: finished_cutoff,
        } = self.read_cutoff(now);
        let mut total = 0;
        let mut emptied: Vec<String> = std::mem::take(
            &mut *s
                .emptied
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_iter()
        .collect();
        loop {
            let purged = match transitions::purge_chunk(
                &s.pool,
                &s.sql,
                T::KIND,
                cutoff,
                finished_cutoff,
                &emptied,
            )
            .await
            {
                Ok(purged) => purged,
                Err(e) => {
                    // Not purged: the next purge tries these namespaces again.
                    // Not more than MAX_EMPTIED, as when they were remembered.
                    super::remember(
                        &mut s
                            .emptied
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner),
                        emptied,
                    );
                    return Err(e);
                }
            };
            emptied.clear();
            if !purged.retry.is_empty() {
                super::remember(
                    &mut s
                        .emptied
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                    purged.retry,
                );
            }
            let ids = purged.ids;
            total += ids.len();
            self.changed(&ids);
            if ids.len() < usize::try_from(PURGE_CHUNK).unwrap_or(usize::MAX) {
                return Ok(total);
            }
        }
    }

    async fn subscribe(&self, id: PendingId) -> Result<Subscription<T>, StoreError> {
        Ok(self.shared.notifier.subscribe(id))
    }
}
