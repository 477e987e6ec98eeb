//! [`SessionOwners`] and [`bind_sessions`]: each streamable-HTTP MCP session
//! (`Mcp-Session-Id`) belongs to the verified subject that opened it. The table is bounded:
//! entries go when the session is closed, after an idle timeout, and when it is full
//! (the least recently used one, or a [`SessionRefused::Full`] refusal).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::time::Instant;

use crate::namespace::Namespace;
use crate::provider::VerifiedSubject;

#[path = "session_table.rs"]
mod table;

#[path = "session_opening.rs"]
mod opening;

use table::{Table, Use};

/// The `Mcp-Session-Id` header.
pub const SESSION_HEADER: &str = "mcp-session-id";

/// Why [`bind_sessions`] refused to open a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionRefused {
    /// The owner table holds `capacity` sessions and was set to refuse new ones
    /// ([`SessionOwners::refuse_when_full`]), or is full while the requester's openings in
    /// flight alone reach its limit (its [`per_owner`](SessionOwners::per_owner), or
    /// [`anonymous`](SessionOwners::anonymous)), so it has no session of its own to give
    /// up and takes nobody else's. Answered `503 Service Unavailable` with `Retry-After`
    /// and a JSON-RPC error naming the reason.
    #[error("too many open MCP sessions (at most {capacity}); try again later")]
    Full {
        /// The configured capacity.
        capacity: usize,
    },
}

impl IntoResponse for SessionRefused {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {"code": -32000, "message": self.to_string()},
        });
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (header::RETRY_AFTER, HeaderValue::from_static("30")),
            ],
            body.to_string(),
        )
            .into_response()
    }
}

/// Who opened each MCP session: the [`VerifiedSubject`] of the request that created it
/// (`None` for a session opened without one). Cheap to clone; clones share the table and
/// its settings.
///
/// A session id is a bearer handle that travels in a header: without this, anyone who
/// learns one can call tools in that session or `DELETE` it. [`bind_sessions`] answers
/// `404 Not Found` for a session it has no entry for, so a session whose entry is gone can
/// no longer be used through it (the client opens a new one, as the spec says it must after
/// a 404).
///
/// Bounded: an entry goes when its session is deleted or rmcp answers `404` for it, when the
/// session was not used for [`idle_timeout`](Self::idle_timeout) (default
/// [`DEFAULT_IDLE_TIMEOUT`](Self::DEFAULT_IDLE_TIMEOUT)), and when a new session would exceed
/// [`capacity`](Self::capacity) (default [`DEFAULT_CAPACITY`](Self::DEFAULT_CAPACITY)): the
/// least recently used entry is evicted, or, after [`refuse_when_full`](Self::refuse_when_full),
/// the new session is refused with [`SessionRefused::Full`]. One subject holds at most
/// [`per_owner`](Self::per_owner) entries (default
/// [`DEFAULT_PER_OWNER`](Self::DEFAULT_PER_OWNER)); its own least recently used goes first.
///
/// No request scans the table: entries are indexed by last use (overall and per subject),
/// so purging idle entries, evicting the least recently used one and counting a subject's
/// sessions cost a logarithmic index update per request, plus constant work for each entry
/// removed (each is removed once).
#[derive(Clone, Default)]
pub struct SessionOwners {
    table: Arc<Mutex<Table>>,
}

impl std::fmt::Debug for SessionOwners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let table = self.table();
        f.debug_struct("SessionOwners")
            .field("sessions", &table.len())
            .field("capacity", &table.capacity)
            .field("per_owner", &table.per_owner)
            .field("idle_timeout", &table.idle)
            .field("refuse_when_full", &table.refuse)
            .finish()
    }
}

impl SessionOwners {
    /// The default [`capacity`](Self::capacity): 10 000 sessions.
    pub const DEFAULT_CAPACITY: usize = 10_000;
    /// The default [`per_owner`](Self::per_owner) limit: 32 sessions per subject.
    pub const DEFAULT_PER_OWNER: usize = 32;
    /// The default [`anonymous`](Self::anonymous) limit: 5 000 sessions opened without a
    /// subject, together (half the default capacity).
    pub const DEFAULT_ANONYMOUS: usize = 5_000;
    /// The default [`idle_timeout`](Self::idle_timeout): one hour (rmcp's own session
    /// keep-alive is five minutes by default).
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(3600);

    /// An empty table with the default bounds.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// At most `sessions` entries (at least 1). When a new session would exceed it, the least
    /// recently used entry is evicted (or the session refused, see
    /// [`refuse_when_full`](Self::refuse_when_full)). `initialize` requests (the only ones that
    /// open a session) count while in flight; requests without a session that are not an
    /// `initialize`, such as revision 2026-07-28 traffic, never count and never evict.
    #[must_use]
    pub fn capacity(self, sessions: usize) -> Self {
        self.table().capacity = sessions.max(1);
        self
    }

    /// At most `sessions` entries (at least 1) per subject: a subject opening one more gives
    /// up its own least recently used session, so one user cannot fill the table and evict
    /// everyone else's. (Sessions opened without a subject are bounded together, see
    /// [`anonymous`](Self::anonymous).)
    #[must_use]
    pub fn per_owner(self, sessions: usize) -> Self {
        self.table().per_owner = sessions.max(1);
        self
    }

    /// At most `sessions` entries (at least 1, at most the [`capacity`](Self::capacity))
    /// for the sessions opened without a subject, together: they cannot be told apart, so
    /// once they hold that many, one more gives up the least recently used of theirs (also
    /// when the table is full), and a flood of them never evicts a subject's session beyond
    /// their share (the default, [`DEFAULT_ANONYMOUS`](Self::DEFAULT_ANONYMOUS), is half the
    /// default capacity). Better still, refuse requests without a subject before this
    /// middleware.
    #[must_use]
    pub fn anonymous(self, sessions: usize) -> Self {
        self.table().anonymous = sessions.max(1);
        self
    }

    /// Closes in the MCP server every session this table drops by itself (idle past the
    /// [`idle_timeout`](Self::idle_timeout), or evicted for room), with `sessions`, the
    /// session manager the `StreamableHttpService` was given. Without it an evicted
    /// session's id is refused here (`404`) but rmcp keeps the session, its task and its
    /// memory until its own keep-alive ends it (five minutes by default), so a burst of
    /// new sessions holds memory for that long.
    ///
    /// ```ignore
    /// let sessions = Arc::new(LocalSessionManager::default());
    /// let service = StreamableHttpService::new(make_server, sessions.clone(), config);
    /// let owners = SessionOwners::new().closing(sessions);
    /// ```
    #[must_use]
    pub fn closing<M>(self, sessions: Arc<M>) -> Self
    where
        M: rmcp::transport::streamable_http_server::SessionManager,
    {
        let closer: table::Closer = Arc::new(move |id: String| {
            let sessions = sessions.clone();
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move {
                    let id: rmcp::transport::streamable_http_server::SessionId = id.into();
                    if sessions.close_session(&id).await.is_err() {
                        tracing::debug!(target: "oob", "an MCP session the owner table dropped could not be closed");
                    }
                });
            }
        });
        self.table().closer = Some(closer);
        self
    }

    /// Closes in the MCP server the sessions the table dropped (see
    /// [`closing`](Self::closing)).
    fn close_dropped(&self) {
        let (dropped, closer) = {
            let mut table = self.table();
            (table.take_dropped(), table.closer.clone())
        };
        if let Some(closer) = closer {
            for session in dropped {
                closer(session);
            }
        }
    }

    /// An entry not used for `idle` is removed; a later request for its session is answered
    /// `404 Not Found`.
    #[must_use]
    pub fn idle_timeout(self, idle: Duration) -> Self {
        self.table().idle = idle;
        self
    }

    /// When full, refuse a new session with [`SessionRefused::Full`] (`503`) instead of
    /// evicting the least recently used entry. Eviction (the default) keeps a burst of new
    /// sessions from locking everybody out until entries expire; refusal keeps existing
    /// sessions.
    #[must_use]
    pub fn refuse_when_full(self) -> Self {
        self.table().refuse = true;
        self
    }

    /// How many sessions have a recorded owner (expired entries not yet purged included).
    #[must_use]
    pub fn len(&self) -> usize {
        self.table().len()
    }

    /// Whether no session has a recorded owner.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.table().len() == 0
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Gives the slot back when the request that held it ends (or is dropped).
struct Slot(SessionOwners, Option<Namespace>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.table().release(&self.1);
    }
}

/// axum middleware for the MCP endpoint, placed inside the authentication that inserts the
/// [`VerifiedSubject`]: records who opened each session, and answers `404 Not Found` (as for
/// an unknown session, revealing nothing) to a request of another subject, or of none, for
/// that session, `DELETE` included, and to a request for a session it has no entry for
/// (never opened through it, closed, expired or evicted).
///
/// Only an `initialize` opens a session (revision 2025-11-25 and before): a `POST` without
/// `Mcp-Session-Id` whose JSON-RPC method is `initialize` takes a slot while in flight (and
/// when the table is full evicts the least recently used entry, or is answered
/// [`SessionRefused::Full`] when set to refuse). Every other request without a session, such
/// as all revision 2026-07-28 traffic (its discover lifecycle has no sessions), takes no slot
/// and evicts nothing, however long it runs.
///
/// ```ignore
/// let mcp = Router::new()
///     .nest_service("/mcp", rmcp_service)
///     .layer(axum::middleware::from_fn_with_state(owners.clone(), bind_sessions));
/// ```
pub async fn bind_sessions(
    State(owners): State<SessionOwners>,
    request: Request,
    next: Next,
) -> Response {
    let response = bind(owners.clone(), request, next).await;
    owners.close_dropped();
    response
}

/// [`bind_sessions`] but for closing what the table dropped.
async fn bind(owners: SessionOwners, request: Request, next: Next) -> Response {
    let subject = request
        .extensions()
        .get::<VerifiedSubject>()
        .map(|s| s.namespace().clone());
    let session = request
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let Some(session) = session else {
        return without_session(owners, subject, request, next).await;
    };
    let used = owners
        .table()
        .use_session(&session, subject.as_ref(), Instant::now());
    match used {
        Use::Owner => {}
        Use::Other => {
            tracing::warn!(target: "oob", "an MCP session was used by a subject other than its owner");
            return StatusCode::NOT_FOUND.into_response();
        }
        Use::Unknown => {
            tracing::debug!(target: "oob", "an MCP request named a session without an owner entry");
            return StatusCode::NOT_FOUND.into_response();
        }
    }
    let delete = request.method() == Method::DELETE;
    let response = next.run(request).await;
    if response.status() == StatusCode::NOT_FOUND || (delete && response.status().is_success()) {
        owners.table().remove(&session);
    }
    response
}

/// A request without a session: only one that may be an `initialize` takes a slot (see
/// `session_opening.rs`: every request whose body is not known to name another method). A
/// session opened by any other request (rmcp opens none) is still recorded within the
/// capacity, or refused.
async fn without_session(
    owners: SessionOwners,
    subject: Option<Namespace>,
    request: Request,
    next: Next,
) -> Response {
    let (request, initialize) = if request.method() == Method::POST {
        opening::peek(request).await
    } else {
        (request, false)
    };
    let slot = if initialize {
        if let Err(refused) = owners.table().reserve(&subject, Instant::now()) {
            tracing::warn!(target: "oob", error = %refused, "an MCP session was refused");
            return refused.into_response();
        }
        Some(Slot(owners.clone(), subject.clone()))
    } else {
        None
    };
    let response = next.run(request).await;
    let Some(opened) = response
        .headers()
        .get(SESSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return response;
    };
    let admitted = {
        let mut table = owners.table();
        if slot.is_some() {
            // Inserted while the slot is still held: the capacity is never exceeded.
            table.insert(opened, subject, Instant::now());
            Ok(())
        } else {
            table.admit(opened, subject, Instant::now())
        }
    };
    drop(slot);
    match admitted {
        Ok(()) => response,
        Err(refused) => {
            tracing::warn!(target: "oob", error = %refused, "an MCP session opened without an initialize was refused");
            refused.into_response()
        }
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
