//! [`InteractionLayer`]: loads the open pending a request names for any tower service and
//! puts it, with its namespace, in the request extensions (the Go `IntoContext`).

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::Request;
use http::request::Parts;
use tower::{Layer, Service};

use super::extract::load;
use super::headers::set_interaction_headers;
use super::identity::{OwnerCheck, Unchecked};
use super::rejection::{InteractionRejection, RejectionKind};
use super::source::InteractionSource;
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::pending::Pending;
use crate::state::Open;

/// What [`InteractionLayer`] puts in the request extensions: the pending's id and
/// namespace, and the open pending itself, which one consumer takes (the Go `FromContext`).
///
/// Read it back in a handler with this type as an extractor (a route without the layer
/// answers 500, [`RejectionKind::Misconfigured`]), or from any tower service with
/// `request.extensions().get::<InteractionContext<T>>()`. An [`Interaction<T>`](super::Interaction)
/// extractor behind the layer takes the pending from here instead of loading it again.
pub struct InteractionContext<T> {
    id: PendingId,
    namespace: Namespace,
    pending: Arc<Mutex<Option<Pending<T, Open>>>>,
}

impl<T> Clone for InteractionContext<T> {
    fn clone(&self) -> Self {
        Self {
            id: self.id,
            namespace: self.namespace.clone(),
            pending: self.pending.clone(),
        }
    }
}

impl<T> fmt::Debug for InteractionContext<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The namespace is personal data: never printed.
        f.debug_struct("InteractionContext")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl<T> InteractionContext<T> {
    fn new(pending: Pending<T, Open>) -> Self {
        Self {
            id: pending.id(),
            namespace: pending.namespace().clone(),
            pending: Arc::new(Mutex::new(Some(pending))),
        }
    }

    /// The pending's id.
    #[must_use]
    pub fn id(&self) -> PendingId {
        self.id
    }

    /// The namespace the pending belongs to.
    #[must_use]
    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    pub(crate) fn has_pending(&self) -> bool {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// The open pending, to complete, cancel or decline it; `None` once a consumer (this
    /// call on a clone, or an [`Interaction`](super::Interaction) extractor) has taken it.
    #[must_use]
    pub fn take_pending(&self) -> Option<Pending<T, Open>> {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

impl<T, S> FromRequestParts<S> for InteractionContext<T>
where
    T: Send + Sync + 'static,
    S: Send + Sync,
{
    type Rejection = InteractionRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Self>()
            .cloned()
            .ok_or_else(|| InteractionRejection::new(RejectionKind::Misconfigured))
    }
}

/// A tower layer equivalent to the Go `NamespaceFromPending` wrapper: for every request it
/// finds the pending id (the `{id}` path parameter when axum matched one, else the same
/// place in the request path for a path route, else the route's query parameter), checks
/// the browser user `U` identifies against the pending's owner and loads the open pending
/// through `L` (a [`Manager`](crate::Manager) or [`Interactions`](super::Interactions)),
/// in the order and with the answers of [`Interaction`](super::Interaction), and calls the
/// inner service with an [`InteractionContext`] in the request extensions. A request it
/// refuses never reaches the inner service: it answers with the [`InteractionRejection`].
/// Both its answers and the inner service's carry the
/// [interaction headers](super::set_interaction_headers).
///
/// ```
/// use axum::{Router, routing::get};
/// use oob::http::{ExtensionUser, InteractionContext, InteractionLayer, interaction_headers};
/// # use oob::{CallbackBase, Manager, OobPayload};
/// # #[derive(Clone, OobPayload)] #[oob(kind = "k", route = "/oob/key/{id}")] struct ApiKey;
/// # let oob = Manager::builder().store(oob::store::MemoryStore::<ApiKey>::new())
/// #     .provider(oob::provider::FromVerifiedSubject)
/// #     .callback_base(CallbackBase::parse("https://x.example").unwrap()).build();
///
/// async fn page(cx: InteractionContext<ApiKey>) -> String {
///     format!("request {}", cx.id())
/// }
///
/// let app: Router = Router::new()
///     .route(ApiKey::ROUTE, get(page))
///     .route_layer(InteractionLayer::new(oob, ExtensionUser))
///     .layer(interaction_headers());
/// ```
///
/// With axum, prefer `route_layer` (the layer then runs only for matched routes, and sees
/// their path parameters); in front of a plain tower service it reads the path itself.
/// [`InteractionLayer::unchecked`] skips the owner check (see
/// [`UncheckedInteraction`](super::UncheckedInteraction) for when that is right).
pub struct InteractionLayer<L, U> {
    source: L,
    _user: PhantomData<fn() -> U>,
}

impl<L: Clone, U> Clone for InteractionLayer<L, U> {
    fn clone(&self) -> Self {
        Self {
            source: self.source.clone(),
            _user: PhantomData,
        }
    }
}

impl<L, U> fmt::Debug for InteractionLayer<L, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InteractionLayer").finish_non_exhaustive()
    }
}

impl<L: InteractionSource, U: OwnerCheck> InteractionLayer<L, U> {
    /// A layer loading pendings through `source` for the browser user `user` identifies
    /// (e.g. [`ExtensionUser`](super::ExtensionUser)).
    #[must_use]
    pub fn new(source: L, user: U) -> Self {
        let _ = user;
        Self {
            source,
            _user: PhantomData,
        }
    }
}

impl<L: InteractionSource> InteractionLayer<L, Unchecked> {
    /// A layer with no owner check: whoever holds the URL acts on the pending.
    #[must_use]
    pub fn unchecked(source: L) -> Self {
        Self::new(source, Unchecked)
    }
}

impl<L: Clone, U, S> Layer<S> for InteractionLayer<L, U> {
    type Service = InteractionService<S, L, U>;

    fn layer(&self, inner: S) -> Self::Service {
        InteractionService {
            inner,
            source: self.source.clone(),
            _user: PhantomData,
        }
    }
}

/// The service [`InteractionLayer`] wraps around another.
pub struct InteractionService<S, L, U> {
    inner: S,
    source: L,
    _user: PhantomData<fn() -> U>,
}

impl<S: Clone, L: Clone, U> Clone for InteractionService<S, L, U> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            source: self.source.clone(),
            _user: PhantomData,
        }
    }
}

impl<S, L, U> fmt::Debug for InteractionService<S, L, U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InteractionService").finish_non_exhaustive()
    }
}

impl<S, L, U, B> Service<Request<B>> for InteractionService<S, L, U>
where
    U: OwnerCheck,
    S: Service<Request<B>> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
    L: InteractionSource,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // Call the instance that was driven to readiness; leave a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let source = self.source.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            match load::<U, L>(&mut parts, &source).await {
                Ok((pending, _user)) => {
                    parts.extensions.insert(InteractionContext::new(pending));
                    let mut res = inner
                        .call(Request::from_parts(parts, body))
                        .await?
                        .into_response();
                    // The handler's page (a secret form, a code) as every rejection: not
                    // cached, not framed, not leaking its URL.
                    set_interaction_headers(res.headers_mut());
                    Ok(res)
                }
                Err(rejection) => Ok(rejection.into_response()),
            }
        })
    }
}
