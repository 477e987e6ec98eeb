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
    /// The pending was already completed: what its owner sees after a resubmit, a reload or
    /// in a second tab ("already done"). 200: nothing went wrong.
    Completed,
    /// The service cancelled the pending. 410.
    Cancelled,
    /// The user declined the pending. 410.
    Declined,
    /// The pending's deadline passed. 410.
    Expired,
    /// The identity check found no signed-in user on the request ("sign in"). 403.
    NoIdentity,
    /// The signed-in user is not the one the pending belongs to: the same answer whatever
    /// the pending's state. 403.
    WrongUser,
    /// An unsafe request (a form POST) a browser marked as sent from another site. 403.
    CrossSite,
    /// A form whose anti-forgery token is missing or not this pending's and session's. 403.
    Forged,
    /// The store failed. 500.
    Internal,
    /// The pending was completed, but saving what the user gave failed
    /// ([`Error::Persist`](crate::Error::Persist)): the pending stays completed, so a retry
    /// cannot help and the page asks for a new link. 500.
    NotSaved,
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
            Self::Completed => StatusCode::OK,
            Self::Cancelled | Self::Declined | Self::Expired => StatusCode::GONE,
            Self::NoIdentity | Self::WrongUser | Self::CrossSite | Self::Forged => {
                StatusCode::FORBIDDEN
            }
            Self::Internal | Self::NotSaved | Self::Misconfigured => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// The fixed headline this kind answers with. It names no id, namespace, payload or
    /// internal error.
    #[must_use]
    pub fn message(self) -> &'static str {
        match self {
            Self::MissingId | Self::MalformedId => "This link is not valid.",
            Self::NotFound => "This request does not exist.",
            Self::Completed => "Already done: this request was completed.",
            Self::Cancelled | Self::Declined => "This request was cancelled.",
            Self::Expired => "This request has expired.",
            Self::NoIdentity => "Please sign in to continue.",
            Self::WrongUser => "This request belongs to another account.",
            Self::CrossSite => "This form was sent from another site.",
            Self::Forged => "This form is out of date.",
            Self::NotSaved => "Your answer could not be saved.",
            Self::Internal | Self::Misconfigured => "Something went wrong. Please try again later.",
        }
    }

    /// The next step the page suggests, fixed like [`message`](Self::message).
    #[must_use]
    pub fn next_step(self) -> &'static str {
        match self {
            Self::MissingId | Self::MalformedId | Self::NotFound => {
                "Check that you opened the whole link, or ask the assistant for a new one."
            }
            // Not "saved": what the completing request persisted is the service's to say
            // (a completer that went away mid-way may have persisted nothing).
            Self::Completed => {
                "There is nothing more to do here. You can close this tab and go back to the assistant."
            }
            Self::Cancelled | Self::Declined | Self::Expired => {
                "Nothing was saved. Ask the assistant again for a new link."
            }
            Self::NoIdentity => {
                "Sign in to this site in this browser with the account you use with the assistant, then open the link again."
            }
            Self::WrongUser => {
                "If the assistant gave you this link, sign out and sign in with the account you use with it. If someone sent it to you, do not continue: ask your own assistant for a link."
            }
            Self::CrossSite => {
                "Open the link from the assistant directly and submit the form there."
            }
            Self::Forged => "Reload the page and submit the form again.",
            Self::NotSaved => {
                "This link cannot be used again. Ask the assistant for a new link and try once more."
            }
            Self::Internal | Self::Misconfigured => "Reload the page in a minute.",
        }
    }

    /// Whether the pending is gone for good (410): cancelled, declined or expired. (A
    /// completed one answers 200, "already done".)
    #[must_use]
    pub fn is_gone(self) -> bool {
        self.status() == StatusCode::GONE
    }

    /// The whole page: a small HTML document of the message and next step (fixed text only).
    #[must_use]
    pub fn page(self) -> String {
        format!(
            "<!doctype html>\n<html lang=en><head><meta charset=utf-8>\
             <meta name=viewport content=\"width=device-width\"><title>{m}</title>\
             <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}}</style>\
             </head><body><h1>{m}</h1>\n<p id=next>{n}</p>\n</body></html>\n",
            m = self.message(),
            n = self.next_step(),
        )
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
            Self::CrossSite => "cross-site form submission",
            Self::Forged => "missing or wrong anti-forgery token",
            Self::Internal => "internal failure",
            Self::NotSaved => "pending completed, but its result was not persisted",
            Self::Misconfigured => "interaction route misconfigured",
        })
    }
}

/// Why an [`Interaction`](super::Interaction) (or the [`InteractionLayer`](super::InteractionLayer))
/// refused a request. As a response: the kind's status, a fixed HTML page
/// ([`RejectionKind::page`]: what happened and what to do next), the [`RejectionKind`] in
/// the response extensions (for a middleware that renders your own pages), and the
/// [interaction headers](super::interaction_headers). The cause of an internal failure is
/// kept as the error [`source`](std::error::Error::source) for logging and never reaches
/// the response.
///
/// To answer differently, take `Result<Interaction<..>, InteractionRejection>` in the handler
/// and map the [`kind`](Self::kind):
///
/// ```
/// use axum::response::{Html, IntoResponse, Response};
/// use oob::http::{ExtensionUser, Interaction, InteractionRejection, RejectionKind};
/// # #[derive(Clone, oob::OobPayload)] #[oob(kind = "k", route = "/cb/{id}")] struct ApiKey;
///
/// async fn page(ix: Result<Interaction<ApiKey, ExtensionUser>, InteractionRejection>) -> Response {
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
    /// Maps a manager error: unknown → 404; completed → 200 "already done" (a second
    /// submit); expired, cancelled, declined → 410;
    /// another namespace → 403; a failed persist step → 500 "could not be saved" (the pending
    /// is completed: a retry cannot help); anything else (the store) → 500; a 500 keeps
    /// the error as the source.
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
            Error::Persist { .. } => return Self::with_source(RejectionKind::NotSaved, e),
            _ => return Self::with_source(RejectionKind::Internal, e),
        };
        Self::new(kind)
    }
}

impl IntoResponse for InteractionRejection {
    fn into_response(self) -> Response {
        let mut res = (self.kind.status(), self.kind.page()).into_response();
        let headers = res.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        set_interaction_headers(headers);
        // For middleware that renders its own pages (e.g. a sign-in link for `NoIdentity`).
        res.extensions_mut().insert(self.kind);
        res
    }
}
