//! Completing pendings: the transition behind [`Manager::complete`] and its variants by id,
//! and [`Manager::complete_with`]'s, which persists what the user gave before it wakes the
//! waiters (also when its future is dropped).

use super::Manager;
use crate::capability::NamespaceToken;
use crate::error::Error;
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::payload::OobPayload;
use crate::pending::Pending;
use crate::state::Completed;
use crate::store::{Record, RecordState, Store, TransitionError, Wake};
use crate::time::Timestamp;

use super::instrument::{finished, observed};

/// Wakes the waiters of a deferred completion when dropped still armed (see
/// [`Manager::complete_with`]): on the current tokio runtime, in a task of its own.
struct WakeOnDrop<T, S, P>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    S: Store<T>,
    P: Send + Sync + 'static,
{
    pending: Option<(Manager<T, S, P>, Armed<T>)>,
}

/// What an armed [`WakeOnDrop`] knows of the completion it stands for.
enum Armed<T> {
    /// The store's transition was sent, at this time, and its answer has not arrived (the
    /// future was dropped while it was in flight, or the store failed): it may have been
    /// applied. The guard reads the record and wakes its waiters only if it reads completed
    /// by this call: in this namespace, at this time, with no other completion of it being
    /// persisted in this process (a double submit's winner, whose persist step must finish
    /// before its waiters are woken).
    Unanswered(PendingId, Namespace, Timestamp),
    /// The store completed this record; its waiters have not been woken.
    Answered(Record<T>),
}

impl<T, S, P> Drop for WakeOnDrop<T, S, P>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    S: Store<T>,
    P: Send + Sync + 'static,
{
    fn drop(&mut self) {
        if let Some((manager, armed)) = self.pending.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let store = &manager.inner.store;
                let record = match armed {
                    Armed::Answered(record) => record,
                    Armed::Unanswered(id, namespace, sent) => {
                        match reread(&manager, id, &namespace, sent).await {
                            Some(r) => r,
                            None => return,
                        }
                    }
                };
                let _ = observed(store.name(), "wake", store.wake(&record)).await;
            });
        }
    }
}

/// When an unanswered completion's guard reads the record again: at once, then after each
/// of these. A store that failed (a timeout) may still apply the transition it was sent: a
/// Redis server that stalled runs the script when it resumes, and a read sent on the same
/// connection waits behind it. So a read that fails, or finds the record still open, is
/// tried again, for about ten seconds in all.
const REREADS: [std::time::Duration; 4] = [
    std::time::Duration::ZERO,
    std::time::Duration::from_millis(500),
    std::time::Duration::from_secs(2),
    std::time::Duration::from_secs(8),
];

/// The record of an unanswered completion (see [`Armed::Unanswered`]) if it reads completed
/// by that call (at `sent`, in `namespace`, with no other completion of it being persisted
/// here), reading again while it may still be on its way ([`REREADS`]).
async fn reread<T, S, P>(
    manager: &Manager<T, S, P>,
    id: PendingId,
    namespace: &Namespace,
    sent: Timestamp,
) -> Option<Record<T>>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    S: Store<T>,
    P: Send + Sync + 'static,
{
    let store = &manager.inner.store;
    for delay in REREADS {
        tokio::time::sleep(delay).await;
        match observed(store.name(), "get", store.get(id, manager.now())).await {
            Ok(Some(r)) if r.id != id || r.namespace != *namespace => return None,
            Ok(Some(r)) if r.state == (RecordState::Completed { at: sent }) => {
                return (!manager.inner.settling.contains(id)).then_some(r);
            }
            // Not applied yet, or not readable yet: it may still be.
            Ok(Some(r)) if r.state == RecordState::Open => {}
            Err(_) => {}
            // Gone, or finished by someone else.
            Ok(_) => return None,
        }
    }
    None
}

impl<T, S, P> Manager<T, S, P>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    S: Store<T>,
    P: Send + Sync + 'static,
{
    pub(super) async fn complete_inner(
        &self,
        id: PendingId,
        consumed: Option<Namespace>,
        expect: Option<&Namespace>,
        wake: Wake,
    ) -> Result<Record<T>, Error> {
        if consumed.is_none() {
            self.check_decodes(id).await?;
        }
        let answer = observed(
            self.inner.store.name(),
            "complete",
            self.inner.store.complete(id, expect, self.now(), wake),
        )
        .await;
        let record = match answer {
            Ok(record) => record,
            Err(e) => return Err(self.refused(id, e, expect).await),
        };
        self.check_answer(&record, id, consumed.as_ref().or(expect))?;
        self.inner
            .log
            .event("complete", T::KIND, id, &record.namespace);
        finished(T::KIND, &record);
        #[cfg(feature = "metrics")]
        self.inner.expiries.forget(id);
        Ok(record)
    }

    pub(super) async fn complete_with_inner<F, R, E>(
        &self,
        id: PendingId,
        namespace: Namespace,
        persist: F,
    ) -> Result<(Pending<T, Completed>, R), Error>
    where
        F: for<'t> AsyncFnOnce(NamespaceToken<'t>) -> Result<R, E>,
        E: std::error::Error + Send + Sync + 'static,
    {
        // Should this future be dropped (its caller went away, e.g. an HTTP client
        // disconnected) or unwind before it wakes the waiters itself, the guard does: from
        // before the transition is sent, since a store may apply it while its answer is lost.
        // (Declared before `settling`, so that it is dropped after it: its task must not
        // take this call's own settling mark for another completer's.)
        let sent = self.now();
        let mut guard = WakeOnDrop {
            pending: Some((self.clone(), Armed::Unanswered(id, namespace.clone(), sent))),
        };
        // From before the store finishes the record until the waiters are woken, this
        // process's waiters of `id` wait for the wake-up instead of answering at a read.
        let settling = self.inner.settling.begin(id);
        let answer = observed(
            self.inner.store.name(),
            "complete",
            self.inner.store.complete(id, None, sent, Wake::Later),
        )
        .await;
        let record = match answer {
            Ok(record) => record,
            Err(e) => {
                // Refused (not found, finished, another namespace): nothing to wake. A store
                // failure may have applied it: the guard looks.
                if !matches!(e, TransitionError::Store(_)) {
                    guard.pending = None;
                }
                return Err(Error::from_transition(id, e));
            }
        };
        let checked = self
            .check_answer(&record, id, Some(&namespace))
            .and_then(|()| self.completed_pending(record.clone()));
        let done = match checked {
            Ok(done) => done,
            Err(e) => {
                guard.pending = None;
                drop(settling);
                // A store that answered with another record or state: hand out nothing. Its
                // answer is not trusted for the wake-up either (it would wake another id's
                // waiters, or report another namespace): the waiters of the id asked for are
                // woken with that id's record as the store now reads it, if it reads right.
                if let Ok(Some(own)) = observed(
                    self.inner.store.name(),
                    "get",
                    self.inner.store.get(id, self.now()),
                )
                .await
                    && own.id == id
                    && own.namespace == namespace
                {
                    let _ = observed(self.inner.store.name(), "wake", self.inner.store.wake(&own))
                        .await;
                }
                return Err(e);
            }
        };
        if let Some((_, armed)) = guard.pending.as_mut() {
            *armed = Armed::Answered(record.clone());
        }
        self.inner.log.event("complete", T::KIND, id, &namespace);
        finished(T::KIND, &record);
        #[cfg(feature = "metrics")]
        self.inner.expiries.forget(id);
        let persisted = persist(NamespaceToken::new(namespace)).await;
        drop(settling);
        let woken = observed(
            self.inner.store.name(),
            "wake",
            self.inner.store.wake(&record),
        )
        .await;
        guard.pending = None;
        let value = persisted.map_err(|e| Error::Persist {
            id,
            source: Box::new(e),
        })?;
        if woken.is_err() {
            // The completion and the persisted result stand; waiters elsewhere see them at
            // their next read (their deadline, a reconnect of the store's events, a timeout).
            self.inner
                .log
                .event("wake_failed", T::KIND, id, done.namespace());
        }
        Ok((done, value))
    }

    /// Completes the open pending with this id (writing nothing; see
    /// [`complete`](Self::complete)).
    ///
    /// # A payload this version cannot read
    /// When this version of `T` cannot decode what another version stored under the same
    /// kind (a field added without a default, mid rolling deploy), the answer is
    /// [`StoreError::Decode`](crate::store::StoreError::Decode) and the pending stays open
    /// for a version that reads it: the memory and SQLite stores check inside the
    /// transition, and on the others the manager reads the record first (one more round
    /// trip for a transition by id; see
    /// [`Store::decodes_before_writing`]).
    /// [`complete`](Self::complete) with a pending this manager read needs no check
    /// (reading it decoded it). On those other stores the decode error comes first, also
    /// for a pending already finished or in another namespace (SQLite answers
    /// [`Error::Finished`] or [`Error::NamespaceMismatch`] there). Keep payload changes
    /// readable by both versions (`#[serde(default)]`) or give the new shape a new kind.
    pub async fn complete_id(&self, id: PendingId) -> Result<Pending<T, Completed>, Error> {
        let record = self.complete_inner(id, None, None, Wake::Now).await?;
        self.completed_pending(record)
    }

    /// Completes the pending only if it belongs to `expected` (e.g. the namespace of the
    /// browser's own session, against forwarded URLs). A pending of another namespace is
    /// [`Error::NamespaceMismatch`] whatever its state (an open one stays open): the answer
    /// tells another user that the id exists, not how it ended
    /// ([`lifecycle::refusal`](crate::store::lifecycle::refusal); the manager holds a custom
    /// store to it too). Once no read sees the record (past its retention window; with zero
    /// retention, as soon as its owner finishes it) the id is [`Error::NotFound`] for
    /// everyone, so a caller who asks again and again can tell that it left, and about
    /// when: keep a retention window where that matters.
    /// Writes nothing. See [`complete_id`](Self::complete_id) on a payload this version
    /// cannot read (on the stores that read before they write, that check comes first).
    pub async fn complete_in(
        &self,
        id: PendingId,
        expected: &Namespace,
    ) -> Result<Pending<T, Completed>, Error> {
        let record = self
            .complete_inner(id, None, Some(expected), Wake::Now)
            .await?;
        self.completed_pending(record)
    }
}
