//! [`SessionUser`]: the browser user from a `tower-sessions` session (feature `tower-sessions`).

use std::future::Future;

use http::request::Parts;
use tower_sessions::Session;

use super::identity::{BrowserIdentity, BrowserUser};
use super::rejection::{InteractionRejection, RejectionKind};
use crate::namespace::Namespace;

/// The browser user is the namespace your sign-in handler stored in the request's
/// [`tower_sessions::Session`] with [`SessionUser::sign_in`]; anti-forgery tokens are bound
/// to the session id. An adapter, not a session system: the session layer
/// (`tower_sessions::SessionManagerLayer`), its store and its cookie settings are yours.
///
/// ```
/// use axum::{Router, routing::{get, post}};
/// use oob::OobPayload;
/// use oob::http::{Interaction, SessionUser};
/// use tower_sessions::{MemoryStore, Session, SessionManagerLayer};
/// # #[derive(Clone, oob::OobPayload)] #[oob(kind = "k", route = "/oob/key/{id}")] struct ApiKey;
/// # type Oob = oob::Manager<ApiKey, oob::store::MemoryStore<ApiKey>, oob::provider::FromVerifiedSubject>;
///
/// async fn sign_in(session: Session) -> &'static str {
///     // After your login checked the user's credentials:
///     let user: oob::Namespace = "alice".parse().unwrap();
///     SessionUser::sign_in(&session, &user).await.unwrap();
///     "signed in"
/// }
///
/// async fn page(ix: Interaction<ApiKey, SessionUser>) -> String {
///     format!("request {} is yours", ix.id())
/// }
///
/// # fn app(oob: Oob) -> Router {
/// Router::new()
///     .route("/login", post(sign_in))
///     .route(ApiKey::ROUTE, get(page))
///     .layer(SessionManagerLayer::new(MemoryStore::default()))
///     .with_state(oob)
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SessionUser;

impl SessionUser {
    /// The session key the namespace is stored under.
    pub const KEY: &'static str = "oob.user";

    /// Records `user` as this session's signed-in user, with a new session id (so an id
    /// fixed before sign-in is worthless after it).
    pub async fn sign_in(
        session: &Session,
        user: &Namespace,
    ) -> Result<(), tower_sessions::session::Error> {
        session.cycle_id().await?;
        session.insert(Self::KEY, user.as_str()).await
    }

    /// Signs the session's user out (deletes the session and its data).
    pub async fn sign_out(session: &Session) -> Result<(), tower_sessions::session::Error> {
        session.flush().await
    }
}

impl BrowserUser for SessionUser {
    fn identify(
        parts: &Parts,
    ) -> impl Future<Output = Result<Option<BrowserIdentity>, InteractionRejection>> + Send {
        let session = parts.extensions.get::<Session>().cloned();
        async move {
            let Some(session) = session else {
                // No `SessionManagerLayer` in front of this route.
                return Err(InteractionRejection::new(RejectionKind::Misconfigured));
            };
            let stored: Option<String> = session
                .get(Self::KEY)
                .await
                .map_err(|e| InteractionRejection::with_source(RejectionKind::Internal, e))?;
            let Some(stored) = stored else {
                return Ok(None);
            };
            let namespace: Namespace = stored
                .parse()
                .map_err(|e| InteractionRejection::with_source(RejectionKind::Internal, e))?;
            let mut user = BrowserIdentity::new(namespace);
            if let Some(id) = session.id() {
                user = user.with_session(id.to_string());
            }
            Ok(Some(user))
        }
    }
}
