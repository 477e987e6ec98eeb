//! Per-session state of 2025-11-25 elicitations: which pendings a session's client accepted,
//! and the one completion notifier per pending and session.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ::rmcp::service::{RequestContext, RoleServer};

use super::completion_notification;
use crate::id::PendingId;
use crate::manager::{Manager, Outcome};
use crate::payload::OobPayload;
use crate::store::Store;

/// A session (its `Mcp-Session-Id`; `None` for transports without one, such as stdio, which
/// serve one session) and a pending.
type Key = (Option<String>, PendingId);

#[derive(Debug, Default, Clone, Copy)]
struct Entry {
    accepted: bool,
    notifier: bool,
}

/// How often a notifier checks whether its session is gone.
const SESSION_POLL: Duration = Duration::from_millis(500);

/// See [`Sessions::forgetting`].
pub(super) struct Forgetting {
    sessions: Option<Sessions>,
    key: Key,
}

impl Forgetting {
    /// Leaves the entry (a notifier spawned next owns it).
    pub(super) fn keep(mut self) {
        self.sessions = None;
    }
}

impl Drop for Forgetting {
    fn drop(&mut self) {
        if let Some(sessions) = self.sessions.take() {
            sessions.forget(&self.key.0, self.key.1);
        }
    }
}

/// The table; clones share it.
#[derive(Debug, Clone, Default)]
pub(super) struct Sessions {
    table: Arc<Mutex<HashMap<Key, Entry>>>,
    /// Running notifier tasks.
    running: Arc<AtomicUsize>,
}

/// The session of `ctx`: the `Mcp-Session-Id` of its HTTP request.
pub(super) fn session_of(ctx: &RequestContext<RoleServer>) -> Option<String> {
    ctx.extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.headers.get(super::SESSION_HEADER))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

impl Sessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Entry>> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the client of `session` already accepted the elicitation of `id`.
    pub(super) fn accepted(&self, session: &Option<String>, id: PendingId) -> bool {
        self.lock()
            .get(&(session.clone(), id))
            .is_some_and(|e| e.accepted)
    }

    pub(super) fn accept(&self, session: &Option<String>, id: PendingId) {
        self.lock()
            .entry((session.clone(), id))
            .or_default()
            .accepted = true;
    }

    /// Forgets `id` in `session` once its outcome is known (a running notifier removes the
    /// entry itself when it ends).
    pub(super) fn forget(&self, session: &Option<String>, id: PendingId) {
        let mut table = self.lock();
        let key = (session.clone(), id);
        if table.get(&key).is_some_and(|e| !e.notifier) {
            table.remove(&key);
        }
    }

    /// A guard that [`forget`](Self::forget)s `id` in `session` when dropped, unless
    /// [`kept`](Forgetting::keep): held while a call waits on an accepted elicitation, so an
    /// error or a dropped call (its client went away) leaves no entry behind.
    pub(super) fn forgetting(&self, session: &Option<String>, id: PendingId) -> Forgetting {
        Forgetting {
            sessions: Some(self.clone()),
            key: (session.clone(), id),
        }
    }

    pub(super) fn notifiers(&self) -> usize {
        self.running.load(Ordering::SeqCst)
    }

    /// Starts the completion notifier of `id` for `session` unless one runs: it sends
    /// `notifications/elicitation/complete` once if the pending completes, and ends with
    /// the pending's outcome, after `within`, or when the session's transport closes.
    pub(super) fn spawn_notifier<T, S, P>(
        &self,
        manager: &Manager<T, S, P>,
        ctx: &RequestContext<RoleServer>,
        session: Option<String>,
        id: PendingId,
        within: Duration,
    ) where
        T: OobPayload + Clone + Send + Sync + 'static,
        S: Store<T>,
        P: Send + Sync + 'static,
    {
        let key = (session, id);
        {
            let mut table = self.lock();
            let entry = table.entry(key.clone()).or_default();
            if entry.notifier {
                return;
            }
            entry.notifier = true;
        }
        self.running.fetch_add(1, Ordering::SeqCst);
        let done = Done {
            sessions: self.clone(),
            key,
        };
        let (manager, peer) = (manager.clone(), ctx.peer.clone());
        tokio::spawn(async move {
            let _done = done;
            let closed = async {
                while !peer.is_transport_closed() {
                    tokio::time::sleep(SESSION_POLL).await;
                }
            };
            tokio::select! {
                outcome = manager.wait(id, within) => match outcome {
                    Ok(Outcome::Completed(done)) => {
                        if let Err(e) = peer.send_notification(completion_notification(&done)).await {
                            tracing::debug!(target: "oob", error = %e, "a completion notification was not delivered");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(target: "oob", error = %e, "a completion notifier could not wait for its pending"),
                },
                () = closed => {}
            }
        });
    }
}

/// Removes a notifier's entry when its task ends, however it ends.
struct Done {
    sessions: Sessions,
    key: Key,
}

impl Drop for Done {
    fn drop(&mut self) {
        self.sessions.lock().remove(&self.key);
        self.sessions.running.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An accepted elicitation's entry goes when the waiting call ends without handing it
    /// to a notifier (an error, or the call dropped), and stays when it is kept.
    #[test]
    fn a_waiting_call_leaves_no_entry_unless_kept() {
        let sessions = Sessions::default();
        let (session, id) = (Some("s".to_owned()), PendingId::random());
        sessions.accept(&session, id);
        drop(sessions.forgetting(&session, id));
        assert!(!sessions.accepted(&session, id), "dropped: forgotten");
        assert!(sessions.lock().is_empty());
        sessions.accept(&session, id);
        sessions.forgetting(&session, id).keep();
        assert!(sessions.accepted(&session, id), "kept for the notifier");
    }
}
