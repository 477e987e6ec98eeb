//! Waiting for a pending's outcome: [`Manager::wait`], event-driven, and what a wait ends
//! with ([`Outcome`]).

use std::time::Duration;

use super::Manager;
use crate::error::Error;
use crate::id::PendingId;
use crate::payload::OobPayload;
use crate::pending::{AnyPending, Pending};
use crate::state::{Cancelled, Completed, Expired};
use crate::store::{Record, RecordState, Store};

use super::instrument::observed;

/// How a wait for a pending ended. `Debug` needs no `T: Debug` (and prints no payload).
#[non_exhaustive]
pub enum Outcome<T> {
    /// It was completed.
    Completed(Pending<T, Completed>),
    /// The service cancelled it.
    Cancelled(Pending<T, Cancelled>),
    /// The user declined it.
    Declined(Pending<T, Cancelled>),
    /// Its deadline passed.
    Expired(Pending<T, Expired>),
    /// It was removed before this waiter saw it finish: its namespace was cleared, or, with
    /// zero retention, it was completed or cancelled and removed while no event of it reached
    /// this waiter (another process on one SQLite file, a store without events; an expiry
    /// is answered this only when a purge removed the record between its deadline and the
    /// waiter's read). Also, with
    /// a retention shorter than an event takes to reach another replica and its re-read to
    /// return (a few milliseconds, plus the clock skew between replicas), a waiter on
    /// another replica than the completer's: keep a non-zero retention at least seconds
    /// long (zero carries the record with its event and is exact). The window counts from
    /// the transition's stamp, taken before the call reaches the store, and a waiter on
    /// another replica reads the record at least every half retention: one whose reads all
    /// failed through the window (the store down that long, or a transition held back by a
    /// reconnect until little of its window was left) answers this. The soak's fault runs,
    /// with a 2 s retention and a Redis restarted every few seconds, count such waiters.
    Removed(PendingId),
    /// The wait's own timeout passed first: the pending was still open when last read; or,
    /// rarely, a completion this process was persisting was removed (a clear, a zero-retention
    /// purge) before this waiter read it completed (see [`Manager::wait`](crate::Manager::wait)).
    TimedOut,
}

impl<T> std::fmt::Debug for Outcome<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Completed(p) => f.debug_tuple("Completed").field(p).finish(),
            Self::Cancelled(p) => f.debug_tuple("Cancelled").field(p).finish(),
            Self::Declined(p) => f.debug_tuple("Declined").field(p).finish(),
            Self::Expired(p) => f.debug_tuple("Expired").field(p).finish(),
            Self::Removed(id) => f.debug_tuple("Removed").field(id).finish(),
            Self::TimedOut => f.write_str("TimedOut"),
        }
    }
}

/// The first pause of a waiter whose re-read failed, doubled after each failure up to
/// [`REREAD_RETRY_MAX`].
const REREAD_RETRY_MIN: Duration = Duration::from_millis(100);
/// The longest pause between two failing re-reads.
const REREAD_RETRY_MAX: Duration = Duration::from_secs(1);
/// How long re-reads may keep failing before the wait answers with the failure (sooner
/// when its timeout comes first): a failover takes seconds, a payload that no longer
/// decodes never recovers.
const REREAD_RETRY_FOR: Duration = Duration::from_secs(30);
/// After a failed read, for this long, a waiter re-reads an open pending at least every
/// [`SHAKY_RECHECK`]: a store that just failed (a failover) may also have lost the change
/// event a completion sent meanwhile, which the waiter would otherwise only see at its
/// next re-read (half the retention).
const SHAKY_FOR: Duration = Duration::from_secs(10);
/// See [`SHAKY_FOR`].
const SHAKY_RECHECK: Duration = Duration::from_millis(500);

/// How often a waiter re-reads a record whose completion this process is still persisting
/// (it is normally woken by the completer well before).
const SETTLE_RECHECK: Duration = Duration::from_millis(200);

/// The longest a waiter sleeps between two reads of an open pending when nothing wakes it:
/// half the time a finished record stays readable (its store's retention; with zero
/// retention, half the time a finished record is kept for its wake-up), so a finish whose
/// event never reached this waiter is still read before the record is forgotten. At least
/// 50 ms, so a tiny retention does not make a waiter spin.
fn recheck(retention: Duration) -> Duration {
    let window = if retention.is_zero() {
        crate::store::lifecycle::WAKE_GRACE
    } else {
        retention
    };
    (window / 2).max(Duration::from_millis(50))
}

/// Sleeps until `until`, or forever when there is no such instant (a timeout too long to
/// add to now: a wait with no timeout).
async fn sleep_until(until: Option<tokio::time::Instant>) {
    match until {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl<T, S, P> Manager<T, S, P>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    S: Store<T>,
    P: Send + Sync + 'static,
{
    /// Waits for the outcome of the pending `id`, at most `timeout`.
    ///
    /// Event-driven: the waiter sleeps until the store reports a change of this id, the
    /// pending's deadline (so expiry is seen at the deadline itself, not at the next sweep),
    /// or the timeout. Any number of waiters may wait on one pending; a waiter that starts
    /// after the pending finished gets its outcome while the store retains it. Dropping
    /// the future leaves nothing behind.
    ///
    /// A completion this process is still persisting (`complete_with`'s persist step) is
    /// answered once the step ends, so that what it wrote can be read; a timeout that comes
    /// first answers `Completed` all the same (the step may still be writing), not
    /// `TimedOut`, which means the pending is still open; unless the waiter never read the
    /// record completed (it was gone at its next read: with zero retention a purge removes
    /// it once a persist step runs past [`WAKE_GRACE`](crate::store::lifecycle::WAKE_GRACE),
    /// and a clear removes it at any time), which answers `TimedOut`.
    ///
    /// # Errors
    /// The store failed at the first read (or the record is not this manager's to read:
    /// [`Error::NotFound`], [`Error::StoreContract`]). A later read that fails (a shared
    /// store failing over, a lost connection) is tried again, with a pause of 0.1 s doubling
    /// to 1 s, for up to 30 s of failures in a row and until the timeout, which then answer
    /// with that failure; for 10 s after a failed read the waiter re-reads every 0.5 s, as
    /// a store that failed may have lost a change event meanwhile.
    pub async fn wait(&self, id: PendingId, timeout: Duration) -> Result<Outcome<T>, Error> {
        #[cfg(feature = "tracing")]
        {
            use tracing::Instrument;
            let span = tracing::debug_span!(target: "oob", "oob.wait", kind = T::KIND, id = %id);
            self.wait_inner(id, timeout).instrument(span).await
        }
        #[cfg(not(feature = "tracing"))]
        self.wait_inner(id, timeout).await
    }

    async fn wait_inner(&self, id: PendingId, timeout: Duration) -> Result<Outcome<T>, Error> {
        // `Duration::MAX` (wait as long as it takes) cannot be added to now: no timeout.
        let until = tokio::time::Instant::now().checked_add(timeout);
        let recheck = recheck(self.inner.store.retention());
        let mut sub = observed(
            self.inner.store.name(),
            "subscribe",
            self.inner.store.subscribe(id),
        )
        .await?;
        let mut last_open: Option<Record<T>> = None;
        // The record last read (open or finished): a later failing read is retried (see
        // below), and an event only answers in its namespace.
        let mut last_read: Option<Record<T>> = None;
        let mut read_once = false;
        let mut pause = REREAD_RETRY_MIN;
        let mut failing_since: Option<tokio::time::Instant> = None;
        let mut shaky_until: Option<tokio::time::Instant> = None;
        loop {
            let now = self.now();
            let read = match observed(
                self.inner.store.name(),
                "get",
                self.inner.store.get(id, now),
            )
            .await
            {
                Ok(read) => {
                    pause = REREAD_RETRY_MIN;
                    failing_since = None;
                    read_once = true;
                    read
                }
                // A re-read that fails (a shared store's failover, a lost connection; also
                // after a read that found the pending completed while its result was being
                // persisted) is tried again, for at most `REREAD_RETRY_FOR` and until the
                // timeout, which then answers with the failure: the outcome may still come.
                // The first read's failure is the answer.
                Err(e)
                    if read_once
                        && failing_since
                            .get_or_insert_with(tokio::time::Instant::now)
                            .elapsed()
                            < REREAD_RETRY_FOR =>
                {
                    shaky_until = Some(tokio::time::Instant::now() + SHAKY_FOR);
                    tokio::select! {
                        event = sub.changed() => {
                            if let Some(done) = self.carried(id, event, last_read.as_ref()) {
                                return done;
                            }
                        }
                        () = tokio::time::sleep(pause) => {}
                        () = sleep_until(until) => return Err(e.into()),
                    }
                    pause = (pause * 2).min(REREAD_RETRY_MAX);
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            match &read {
                Some(record) => {
                    self.read_as(record, id)?;
                    last_read = Some(record.clone());
                }
                // Removed at completion (zero retention) between subscribing and reading:
                // the event carries the outcome.
                None => {
                    if let Some(done) = self.carried(id, sub.try_changed(), last_read.as_ref()) {
                        return done;
                    }
                }
            }
            if self.inner.settling.contains(id)
                && read
                    .as_ref()
                    .is_none_or(|r| matches!(r.state, RecordState::Completed { .. }))
            {
                // Completed here and its result is still being persisted (the record reads
                // completed, or the store already forgot it: zero retention and a persist
                // step longer than the wake grace): answer once the completer wakes the
                // waiters (re-checking now and then, should its wake-up fail), not before
                // the result can be read.
                tokio::select! {
                    event = sub.changed() => {
                        if let Some(done) = self.carried(id, event, last_read.as_ref()) {
                            return done;
                        }
                    }
                    () = tokio::time::sleep(SETTLE_RECHECK) => {}
                    // Out of time while the result is still being persisted: the outcome
                    // read, not `TimedOut` (which says the pending is still open).
                    () = sleep_until(until) => {
                        let completed = last_read
                            .filter(|r| matches!(r.state, RecordState::Completed { .. }));
                        return Ok(completed.map_or(Outcome::TimedOut, |r| self.outcome(r)));
                    }
                }
                continue;
            }
            let Some(record) = read else {
                // Gone since the last read, which found it open. A finish would have been
                // heard, or read at a re-read (see `recheck`) while it stays readable; an
                // expired record stays readable for the retention after its deadline. So it
                // expired only if it is past the end of that window; otherwise it was
                // removed (its namespace cleared). With zero retention a record another
                // process finished is gone at once (its event does not reach this waiter),
                // as an expired one is at its deadline: the store tells them apart (see
                // `gone_past_deadline`).
                let retention = self.inner.store.retention();
                return match last_open {
                    Some(r) if r.expires_at.saturating_add(retention) <= now => {
                        if retention.is_zero() {
                            Ok(self.gone_past_deadline(id, r).await)
                        } else {
                            Ok(self.expired(r))
                        }
                    }
                    Some(_) => Ok(Outcome::Removed(id)),
                    None => Err(Error::NotFound(id)),
                };
            };
            if !record.state.is_open() {
                return Ok(self.outcome(record));
            }
            // Wake a millisecond after the deadline so the re-read sees it passed, or at the
            // next re-read before it (see `recheck`), whichever comes first.
            let to_deadline = now.until(record.expires_at) + Duration::from_millis(1);
            last_open = Some(record);
            let pace = if shaky_until.is_some_and(|t| tokio::time::Instant::now() < t) {
                recheck.min(SHAKY_RECHECK)
            } else {
                recheck
            };
            tokio::select! {
                event = sub.changed() => {
                    if let Some(done) = self.carried(id, event, last_read.as_ref()) {
                        return done;
                    }
                }
                () = tokio::time::sleep(to_deadline.min(pace)) => {}
                () = sleep_until(until) => return Ok(Outcome::TimedOut),
            }
        }
    }

    /// The outcome a change event carries, if it carries the record `id` finished (checked
    /// as every record this manager reads is) in the namespace of the record last read, when
    /// one was (an event of another record or namespace only makes the waiter re-read).
    fn carried(
        &self,
        id: PendingId,
        event: Option<std::sync::Arc<Record<T>>>,
        last_read: Option<&Record<T>>,
    ) -> Option<Result<Outcome<T>, Error>> {
        let r = event.filter(|r| {
            r.id == id && !r.state.is_open() && last_read.is_none_or(|o| o.namespace == r.namespace)
        })?;
        Some(self.bound(&r).map(|()| self.outcome(Record::clone(&r))))
    }

    /// With zero retention, a record last read open (`last`) and gone at a read past its
    /// deadline: it expired, or it was finished and removed at once (by another process,
    /// whose event does not reach this waiter). A store keeps an expired record until a
    /// purge, and removes a finished one at once, so a read as of just before the deadline
    /// tells them apart: stored and open then, it expired; gone, it was removed (or purged
    /// already: a purge between the deadline and this read answers [`Outcome::Removed`]
    /// too, as does a read that fails).
    async fn gone_past_deadline(&self, id: PendingId, last: Record<T>) -> Outcome<T> {
        let before = last.expires_at.saturating_sub(Duration::from_millis(1));
        let read = observed(
            self.inner.store.name(),
            "get",
            self.inner.store.get(id, before),
        )
        .await;
        match read {
            Ok(Some(r)) if r.namespace == last.namespace && self.read_as(&r, id).is_ok() => {
                if r.state.is_open() {
                    self.expired(r)
                } else {
                    self.outcome(r)
                }
            }
            _ => Outcome::Removed(id),
        }
    }

    /// The outcome of a record last read open and gone past its deadline: expired then.
    fn expired(&self, r: Record<T>) -> Outcome<T> {
        self.outcome(Record {
            state: RecordState::Expired { at: r.expires_at },
            ..r
        })
    }

    fn outcome(&self, record: Record<T>) -> Outcome<T> {
        match self.any(record) {
            AnyPending::Completed(p) => Outcome::Completed(p),
            AnyPending::Cancelled(p) if p.is_declined() => Outcome::Declined(p),
            AnyPending::Cancelled(p) => Outcome::Cancelled(p),
            AnyPending::Expired(p) => {
                self.inner
                    .log
                    .event("expire", T::KIND, p.id(), p.namespace());
                Outcome::Expired(p)
            }
            AnyPending::Open(p) => Outcome::Removed(p.id()),
        }
    }

    /// Returns once a completion of `id` that this process is persisting has been persisted
    /// (at most after `limit`); at once when there is none. A reader that found the record
    /// completed calls this before it reads what the completion wrote.
    #[cfg(feature = "mcp")]
    pub(crate) async fn settled(&self, id: PendingId, limit: Duration) -> Result<(), Error> {
        if self.inner.settling.contains(id) {
            match self.wait(id, limit).await {
                // Gone by now: the completer woke its waiters and a zero retention removed
                // the record in between; its persist step is over either way.
                Ok(_) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
