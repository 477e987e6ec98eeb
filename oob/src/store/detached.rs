//! [`transition`]: a shared store's transition and what follows its commit, in a task of its
//! own.
//!
//! A transition on a shared store is a round trip (a Redis script, a Postgres statement)
//! followed by work its caller does once the answer is there: wake the local waiters, send
//! the event the other replicas' waiters wait for, forget a record kept for zero retention.
//! A caller's future can be dropped in between (axum drops a handler's future when its
//! client disconnects; a timeout layer drops it when it fires): the write then happens and
//! its waiters, here and on every replica, are never told. Run in a task of its own, the
//! whole transition goes to its end whatever happens to the caller.

use std::future::Future;

use super::{Record, RecordState, StoreError, TransitionError, Wake};
use crate::id::PendingId;
use crate::time::Timestamp;

/// The transition's task ended without an answer (it panicked); its panic message is not
/// kept.
#[derive(Debug, thiserror::Error)]
#[error("the store's transition task ended without an answer")]
pub(crate) struct TaskEnded;

/// What [`transition`] needs of a store to wake an orphaned `Wake::Later` transition: a
/// read of the record, and the store's own `wake`.
pub(crate) trait Rewake<T>: Send + Sync + 'static {
    /// The record as of `now`, as the store's `get` reads it.
    fn reread(
        &self,
        id: PendingId,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<Record<T>>, StoreError>> + Send;
    /// The store's `wake` of a record completed with `Wake::Later`.
    fn rewake(&self, record: &Record<T>) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Runs `run`, the transition of record `id` at `now` on `store`, in a task of its own and
/// awaits its answer (see the module docs). Should the caller be gone when the answer comes
/// and the transition be a `Wake::Later` one, its waiters are woken there, as nobody is left
/// to call `wake` (the caller's persist step went with it): the record it won, or, when it
/// applied and then failed (a replica short of acknowledging it, a row that did not
/// decode), the record read completed at this transition's `now` (so not another
/// completer's, whose own persist step may still run).
pub(crate) async fn transition<T, S>(
    store: S,
    id: PendingId,
    now: Timestamp,
    wake: Wake,
    run: impl Future<Output = Result<Record<T>, TransitionError>> + Send + 'static,
) -> Result<Record<T>, TransitionError>
where
    T: Send + Sync + 'static,
    S: Rewake<T>,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let Err(answer) = tx.send(run.await) else {
            return;
        };
        if wake != Wake::Later {
            return;
        }
        let won = match answer {
            Ok(won) => Some(won),
            Err(TransitionError::Store(_)) => store
                .reread(id, now)
                .await
                .ok()
                .flatten()
                .filter(|r| r.state == RecordState::Completed { at: now }),
            Err(_) => None,
        };
        if let Some(won) = won {
            // Best effort, as the caller's own `wake` would have been.
            let _ = store.rewake(&won).await;
        }
    });
    rx.await
        .unwrap_or_else(|_| Err(TransitionError::Store(StoreError::backend(TaskEnded))))
}
