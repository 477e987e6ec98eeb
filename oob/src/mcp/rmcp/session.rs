//! [`SessionOwners`] and [`bind_sessions`]: each streamable-HTTP MCP session
//! (`Mcp-Session-Id`) belongs to the verified subject that opened it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::namespace::Namespace;
use crate::provider::VerifiedSubject;

/// The `Mcp-Session-Id` header.
pub const SESSION_HEADER: &str = "mcp-session-id";

/// Who opened each MCP session: the [`VerifiedSubject`] of the request that created it
/// (`None` for a session opened without one). Cheap to clone; clones share the table.
///
/// A session id is a bearer handle that travels in a header: without this, anyone who
/// learns one can call tools in that session or `DELETE` it. Entries go when the session is
/// deleted or when rmcp answers `404` for it (expired).
#[derive(Clone, Default)]
pub struct SessionOwners {
    owners: Arc<Mutex<HashMap<String, Option<Namespace>>>>,
}

impl std::fmt::Debug for SessionOwners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionOwners")
            .field("sessions", &self.len())
            .finish()
    }
}

impl SessionOwners {
    /// An empty table.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// How many sessions have a recorded owner.
    #[must_use]
    pub fn len(&self) -> usize {
        self.table().len()
    }

    /// Whether no session has a recorded owner.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.table().is_empty()
    }

    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<Namespace>>> {
        self.owners.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// axum middleware for the MCP endpoint, placed inside the authentication that inserts the
/// [`VerifiedSubject`]: records who opened each session, and answers `404 Not Found` (as for
/// an unknown session, revealing nothing) to a request of another subject, or of none, for
/// that session, `DELETE` included.
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
        let response = next.run(request).await;
        if let Some(opened) = response
            .headers()
            .get(SESSION_HEADER)
            .and_then(|v| v.to_str().ok())
        {
            owners.table().insert(opened.to_owned(), subject);
        }
        return response;
    };
    let known = owners.table().get(&session).cloned();
    if let Some(owner) = known
        && owner != subject
    {
        tracing::warn!(target: "oob", "an MCP session was used by a subject other than its owner");
        return StatusCode::NOT_FOUND.into_response();
    }
    let delete = request.method() == Method::DELETE;
    let response = next.run(request).await;
    if response.status() == StatusCode::NOT_FOUND || (delete && response.status().is_success()) {
        owners.table().remove(&session);
    }
    response
}
