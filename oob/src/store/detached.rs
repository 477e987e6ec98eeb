//! [`detached`]: a shared store's transition and what follows its commit, in a task of its
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

use super::{Record, RecordState, StoreError, TransitionError};
use crate::time::Timestamp;

/// The transition's task ended without an answer (it panicked); its panic message is not
/// kept.
#[derive(Debug, thiserror::Error)]
#[error("the store's transition task ended without an answer")]
pub(crate) struct TaskEnded;

/// Runs `transition` in a task of its own and awaits its answer (see the module docs).
/// Should the caller be gone when the answer comes, `orphan` gets it: a transition that
/// won with `Wake::Later` (or applied and then failed) is then woken there, as nobody is
/// left to call `wake` (the caller's persist step went with it).
pub(crate) async fn detached<R, O, W>(
    transition: impl Future<Output = Result<R, TransitionError>> + Send + 'static,
    orphan: O,
) -> Result<R, TransitionError>
where
    R: Send + 'static,
    O: FnOnce(Result<R, TransitionError>) -> W + Send + 'static,
    W: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        if let Err(answer) = tx.send(transition.await) {
            orphan(answer).await;
        }
    });
    rx.await
        .unwrap_or_else(|_| Err(TransitionError::Store(StoreError::backend(TaskEnded))))
}

/// The record an orphaned `Wake::Later` transition (see [`detached`]) wakes: the one it
/// won, or, when it applied and then failed (a replica short of acknowledging it, a row
/// that did not decode), the one `read` finds completed at this transition's `now` (so not
/// another completer's, whose own persist step may still run).
pub(crate) async fn to_wake<T, F, Fut>(
    answer: Result<Record<T>, TransitionError>,
    now: Timestamp,
    read: F,
) -> Option<Record<T>>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<Option<Record<T>>, StoreError>>,
{
    match answer {
        Ok(won) => Some(won),
        Err(TransitionError::Store(_)) => read()
            .await
            .ok()
            .flatten()
            .filter(|r| r.state == RecordState::Completed { at: now }),
        Err(_) => None,
    }
}
