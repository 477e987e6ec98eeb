//! [`InteractionRejection`]: why an interaction request was refused, as a fixed response.

use std::fmt;

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

use super::headers::set_interaction_headers;
use crate::error::Error;
use crate::store::Finished;

/// Why an interaction request was refused. Each kind has a fixed status and a fixed,
/// generic body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectionKind {
    /// The request carries no id (no `{id}` path parameter and no id query parameter). 400.
    MissingId,
    /// The id is not a canonical pending id (wrong length, not hex, percent-encoded garbage,
    /// path tricks, several id query parameters). 400.
    MalformedId,
    /// No pending with this id (never created, cleared, or purged). 404.
    NotFound,
    /// The pending was already completed. 410.
    Completed,
    /// The service cancelled the pending. 410.
    Cancelled,
    /// The user declined the pending. 410.
    Declined,
    /// The pending's deadline passed. 410.
    Expired,
    /// The identity check found no authenticated user on the request. 403.
    NoIdentity,
    /// The authenticated user is not the one the pending belongs to. 403.
    WrongUser,
    /// The store (or persisting a result) failed. 500.
    Internal,
    /// The service is wired wrongly, e.g. an extractor that reads what
    /// [`InteractionLayer`](super::InteractionLayer) inserts, on a route without the layer. 500.
    Misconfigured,
}

impl RejectionKind {
    /// The HTTP status this kind answers with.
    #[must_use]
    pub fn status(self) -> StatusCode {
        match self {
            Self::MissingId | Self::MalformedId => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Completed | Self::Cancelled | Self::Declined | Self::Expired => StatusCode::GONE,
            Self::NoIdentity | Self::WrongUser => StatusCode::FORBIDDEN,
            Self::Internal | Self::Misconfigured => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The fixed body this kind answers with. It names no id, namespace, payload or internal
    /// error.
    #[must_use]
    pub fn message(self) -> &'static str {
        match self {
            Self::MissingId | Self::MalformedId => "This link is not valid.",
            Self::NotFound => "This request does not exist.",
            Self::Completed => "This request was already completed.",
            Self::Cancelled | Self::Declined => "This request was cancelled.",
            Self::Expired => "This request has expired.",
            Self::NoIdentity | Self::WrongUser => "You cannot act on this request.",
            Self::Internal | Self::Misconfigured => "Something went wrong. Please try again later.",
        }
    }

    /// Whether the pending is gone for good (410): completed, cancelled, declined or expired.
    #[must_use]
    pub fn is_gone(self) -> bool {
        self.status() == StatusCode::GONE
    }
}

impl fmt::Display for RejectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::MissingId => "no pending id in the request",
            Self::MalformedId => "malformed pending id",
            Self::NotFound => "unknown pending",
            Self::Completed => "pending already completed",
            Self::Cancelled => "pending cancelled",
            Self::Declined => "pending declined",
            Self::Expired => "pending expired",
            Self::NoIdentity => "no authenticated user",
            Self::WrongUser => "pending belongs to another user",
            Self::Internal => "internal failure",
            Self::Misconfigured => "interaction route misconfigured",
        })
    }
}

/// Why an [`Interaction`](super::Interaction) (or the [`InteractionLayer`](super::InteractionLayer))
/// refused a request. As a response: the kind's status, a fixed plain-text body, and the
/// [interaction headers](super::interaction_headers). The cause of an internal failure is
/// kept as the error [`source`](std::error::Error::source) for logging and never reaches
/// the response.
///
/// To answer differently, take `Result<Interaction<..>, InteractionRejection>` in the handler
/// and map the [`kind`](Self::kind):
///
/// ```
/// use axum::response::{Html, IntoResponse, Response};
/// use oob::http::{Interaction, InteractionRejection, RejectionKind};
/// # #[derive(Clone, oob::OobPayload)] #[oob(kind = "k", route = "/cb/{id}")] struct ApiKey;
///
/// async fn page(ix: Result<Interaction<ApiKey>, InteractionRejection>) -> Response {
///     match ix {
///         Ok(ix) => Html("<form method=post>...</form>").into_response(),
///         Err(r) if r.kind() == RejectionKind::Expired => {
///             (r.status(), Html("<p>This link expired: ask the assistant for a new one.</p>"))
///                 .into_response()
///         }
///         Err(r) => r.into_response(),
///     }
/// }
/// ```
pub struct InteractionRejection {
    kind: RejectionKind,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl InteractionRejection {
    /// A rejection of this kind.
    #[must_use]
    pub fn new(kind: RejectionKind) -> Self {
        Self { kind, source: None }
    }

    /// A rejection of this kind caused by `source` (kept for logging, never sent).
    #[must_use]
    pub fn with_source(
        kind: RejectionKind,
        source: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Self {
        Self {
            kind,
            source: Some(source.into()),
        }
    }

    /// The kind.
    #[must_use]
    pub fn kind(&self) -> RejectionKind {
        self.kind
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }
}

impl fmt::Debug for InteractionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InteractionRejection")
            .field("kind", &self.kind)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for InteractionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)
    }
}

impl std::error::Error for InteractionRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<RejectionKind> for InteractionRejection {
    fn from(kind: RejectionKind) -> Self {
        Self::new(kind)
    }
}

impl From<Error> for InteractionRejection {
    /// Maps a manager error: unknown → 404; expired, completed, cancelled, declined → 410;
    /// another namespace → 403; anything else (store, persistence) → 500, keeping the error
    /// as the source.
    fn from(e: Error) -> Self {
        let kind = match &e {
            Error::NotFound(_) => RejectionKind::NotFound,
            Error::Expired(_) => RejectionKind::Expired,
            Error::Finished { how, .. } => match how {
                Finished::Completed => RejectionKind::Completed,
                Finished::Cancelled => RejectionKind::Cancelled,
                Finished::Declined => RejectionKind::Declined,
                _ => RejectionKind::Expired,
            },
            Error::NamespaceMismatch(_) => RejectionKind::WrongUser,
            _ => return Self::with_source(RejectionKind::Internal, e),
        };
        Self::new(kind)
    }
}

impl IntoResponse for InteractionRejection {
    fn into_response(self) -> Response {
        let mut res = (self.kind.status(), self.kind.message()).into_response();
        let headers = res.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        set_interaction_headers(headers);
        res
    }
}
