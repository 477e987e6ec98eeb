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

use super::{StoreError, TransitionError};

/// The transition's task ended without an answer (it panicked); its panic message is not
/// kept.
#[derive(Debug, thiserror::Error)]
#[error("the store's transition task ended without an answer")]
pub(crate) struct TaskEnded;

/// Runs `transition` in a task of its own and awaits its answer (see the module docs).
/// Should the caller be gone when the answer comes, `orphan` gets it: a transition that
/// won with `Wake::Later` is then woken there, as nobody is left to call `wake` (the
/// caller's persist step went with it).
pub(crate) async fn detached<R, O, W>(
    transition: impl Future<Output = Result<R, TransitionError>> + Send + 'static,
    orphan: O,
) -> Result<R, TransitionError>
where
    R: Send + 'static,
    O: FnOnce(R) -> W + Send + 'static,
    W: Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        if let Err(Ok(won)) = tx.send(transition.await) {
            orphan(won).await;
        }
    });
    rx.await
        .unwrap_or_else(|_| Err(TransitionError::Store(StoreError::backend(TaskEnded))))
}
