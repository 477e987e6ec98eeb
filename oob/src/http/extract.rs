//! [`Interaction`]: the extractor that loads the open pending a callback request names.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;

use super::layer::InteractionContext;
use super::locate::locate_id;
use super::rejection::{InteractionRejection, RejectionKind};
use crate::error::Error;
use crate::id::PendingId;
use crate::manager::Manager;
use crate::namespace::Namespace;
use crate::payload::OobPayload;
use crate::pending::Pending;
use crate::provider::VerifiedSubject;
use crate::state::Open;
use crate::store::Store;

mod sealed {
    pub trait Sealed {}
}

/// What loads open pendings for [`Interaction`] and [`InteractionLayer`](super::InteractionLayer):
/// a [`Manager`] (any store, any provider) or the type-erased [`Interactions`] handle.
/// Sealed.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot load interactions",
    label = "not a manager or an `oob::http::Interactions<T>`",
    note = "use `Interaction<T>` with a state that provides `oob::http::Interactions<T>` (a `Manager<T, _, _>` state does), or `Interaction<T, YourManagerType>` with a state that provides the manager by `FromRef`"
)]
pub trait InteractionSource: sealed::Sealed + Clone + Send + Sync + 'static {
    /// The payload type of the pendings it loads.
    type Payload: OobPayload + Send + Sync + 'static;

    /// The open pending with this id (see [`Manager::open`]).
    fn open_interaction(
        &self,
        id: PendingId,
    ) -> impl Future<Output = Result<Pending<Self::Payload, Open>, Error>> + Send;
}

impl<T, St, P> sealed::Sealed for Manager<T, St, P> {}

impl<T, St, P> InteractionSource for Manager<T, St, P>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    St: Store<T>,
    P: Send + Sync + 'static,
{
    type Payload = T;

    fn open_interaction(
        &self,
        id: PendingId,
    ) -> impl Future<Output = Result<Pending<T, Open>, Error>> + Send {
        self.open(id)
    }
}

type BoxFuture<'a, O> = Pin<Box<dyn Future<Output = O> + Send + 'a>>;

trait DynSource<T>: Send + Sync + 'static {
    fn open_boxed(&self, id: PendingId) -> BoxFuture<'_, Result<Pending<T, Open>, Error>>;
}

impl<T, St, P> DynSource<T> for Manager<T, St, P>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    St: Store<T>,
    P: Send + Sync + 'static,
{
    fn open_boxed(&self, id: PendingId) -> BoxFuture<'_, Result<Pending<T, Open>, Error>> {
        Box::pin(self.open(id))
    }
}

/// A type-erased handle that loads open pendings of payload type `T` from a [`Manager`],
/// whatever its store and provider: what [`Interaction<T>`] reads from the router state, so
/// handler signatures name only the payload type. Cloning is cheap.
///
/// A router whose state *is* the manager provides it already. With a state struct, give it
/// one `FromRef` impl:
///
/// ```
/// use axum::extract::FromRef;
/// use oob::http::Interactions;
/// # #[derive(Clone, oob::OobPayload)] #[oob(kind = "k", route = "/cb/{id}")] struct ApiKey;
/// # type Oob = oob::Manager<ApiKey, oob::store::MemoryStore<ApiKey>, oob::provider::FromVerifiedSubject>;
///
/// #[derive(Clone)]
/// struct AppState { oob: Oob /* , vault, templates, ... */ }
///
/// impl FromRef<AppState> for Interactions<ApiKey> {
///     fn from_ref(state: &AppState) -> Self {
///         state.oob.interactions()
///     }
/// }
/// ```
pub struct Interactions<T> {
    source: Arc<dyn DynSource<T>>,
}

impl<T> Clone for Interactions<T> {
    fn clone(&self) -> Self {
        Self {
            source: self.source.clone(),
        }
    }
}

impl<T> fmt::Debug for Interactions<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interactions").finish_non_exhaustive()
    }
}

impl<T> sealed::Sealed for Interactions<T> {}

impl<T: OobPayload + Send + Sync + 'static> InteractionSource for Interactions<T> {
    type Payload = T;

    fn open_interaction(
        &self,
        id: PendingId,
    ) -> impl Future<Output = Result<Pending<T, Open>, Error>> + Send {
        self.source.open_boxed(id)
    }
}

/// Interaction routes (feature `axum`).
impl<T, St, P> Manager<T, St, P>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    St: Store<T>,
    P: Send + Sync + 'static,
{
    /// A type-erased [`Interactions`] handle on this manager, for [`Interaction<T>`].
    #[must_use]
    pub fn interactions(&self) -> Interactions<T> {
        Interactions {
            source: Arc::new(self.clone()),
        }
    }
}

impl<T, St, P> From<Manager<T, St, P>> for Interactions<T>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    St: Store<T>,
    P: Send + Sync + 'static,
{
    fn from(manager: Manager<T, St, P>) -> Self {
        Self {
            source: Arc::new(manager),
        }
    }
}

impl<T, St, P> FromRef<Manager<T, St, P>> for Interactions<T>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    St: Store<T>,
    P: Send + Sync + 'static,
{
    fn from_ref(manager: &Manager<T, St, P>) -> Self {
        manager.interactions()
    }
}

/// The open pending a callback request names, loaded by its id: the Rust equivalent of the
/// Go `NamespaceFromPending`. The browser carries no MCP credentials; the pending knows
/// the namespace.
///
/// The id comes from the route's `{id}` path parameter (the payload's
/// [`ROUTE`](OobPayload::ROUTE) is axum route syntax, so
/// `Router::new().route(T::ROUTE, get(handler))` just works), or, for a query route such as
/// `/oob?id={id}` (routed on [`route_path`](super::route_path)`(T::ROUTE)`), from its query
/// parameter. `L` is what loads the pending, read from the router state with [`FromRef`]:
/// by default the type-erased [`Interactions<T>`] (a state that *is* the
/// [`Manager`] provides it), or name your manager type, `Interaction<T, Oob>`, when the
/// state provides the manager.
///
/// Refusals are [`InteractionRejection`]s: 400 for a missing or malformed id, 404 for an
/// unknown one, 410 for a completed, cancelled, declined or expired one, 500 (generic body)
/// when the store fails.
///
/// The handler gets a [`Pending<T, Open>`] (by [`Deref`], or
/// [`into_pending`](Self::into_pending)) and its [`namespace`](Pending::namespace), and
/// completes it with [`Manager::complete_with`]: only the submit that wins the completion
/// gets the token to persist under that namespace (a replayed submit gets 410 and no token),
/// before the waiting tool call wakes:
///
/// ```
/// use axum::{Form, Router, extract::State, response::Html, routing::get};
/// use oob::http::{Interaction, InteractionRejection, interaction_headers};
/// use oob::provider::{FromVerifiedSubject, VerifiedSubject};
/// use oob::store::MemoryStore;
/// use oob::vault::{MemoryVault, Vault};
/// use oob::{CallbackBase, Manager, OobPayload, Spec};
///
/// #[derive(Clone, OobPayload)]
/// #[oob(kind = "api_key", route = "/oob/key/{id}")]
/// struct ApiKey { service: String }
///
/// type Oob = Manager<ApiKey, MemoryStore<ApiKey>, FromVerifiedSubject>;
///
/// #[derive(serde::Deserialize)]
/// struct Submitted { key: String }
///
/// // GET: the pending is open (or the request was refused before this runs).
/// async fn form(ix: Interaction<ApiKey>) -> Html<&'static str> {
///     let _asked_for: &str = &ix.data().service; // escape it if you render it
///     Html("<form method=post><input name=key type=password><button>Save</button></form>")
/// }
///
/// // POST: complete exactly once, persisting under the pending's namespace first.
/// async fn submit(
///     State(oob): State<Oob>,
///     ix: Interaction<ApiKey>,
///     Form(f): Form<Submitted>,
/// ) -> Result<&'static str, InteractionRejection> {
///     let vault = MemoryVault::<String>::new(); // yours lives in the state
///     oob.complete_with(ix.into_pending(), async move |token| vault.put(&token, "key", f.key).await)
///         .await?; // a second submit: 410
///     Ok("Done: you can close this tab.")
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let oob: Oob = Manager::builder()
///     .store(MemoryStore::new())
///     .provider(FromVerifiedSubject)
///     .callback_base(CallbackBase::parse("https://mcp.example.com")?)
///     .build();
/// let app: Router = Router::new()
///     .route(ApiKey::ROUTE, get(form).post(submit))
///     .layer(interaction_headers())
///     .with_state(oob.clone());
///
/// // Drive it once, in process.
/// let alice = VerifiedSubject::new("alice".parse()?);
/// let open = oob.create(&alice, Spec::new(ApiKey { service: "github".into() })).await?;
/// let path = format!("/oob/key/{}", open.id());
/// let req = http::Request::get(&path).body(axum::body::Body::empty())?;
/// let res = tower::Service::call(&mut app.clone(), req).await?;
/// assert_eq!(res.status(), 200);
/// assert_eq!(res.headers()["cache-control"], "no-store");
/// let res = tower::Service::call(&mut app.clone(),
///     http::Request::get("/oob/key/not-an-id").body(axum::body::Body::empty())?).await?;
/// assert_eq!(res.status(), 400);
/// # Ok(()) }
/// ```
pub struct Interaction<T, L = Interactions<T>> {
    pending: Pending<T, Open>,
    _source: PhantomData<fn() -> L>,
}

impl<T, L> fmt::Debug for Interaction<T, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interaction")
            .field("pending", &self.pending)
            .finish()
    }
}

impl<T, L> Interaction<T, L> {
    fn new(pending: Pending<T, Open>) -> Self {
        Self {
            pending,
            _source: PhantomData,
        }
    }

    /// The open pending.
    #[must_use]
    pub fn pending(&self) -> &Pending<T, Open> {
        &self.pending
    }

    /// The namespace the pending belongs to (the Go `FromContext`).
    #[must_use]
    pub fn namespace(&self) -> &Namespace {
        self.pending.namespace()
    }

    /// The open pending, to complete, cancel or decline it.
    #[must_use]
    pub fn into_pending(self) -> Pending<T, Open> {
        self.pending
    }

    /// The open pending and (a copy of) its namespace.
    #[must_use]
    pub fn into_parts(self) -> (Pending<T, Open>, Namespace) {
        let ns = self.pending.namespace().clone();
        (self.pending, ns)
    }

    /// Checks that the pending belongs to `user`, the namespace of the user the service
    /// authenticated on this browser request (its own session): a link forwarded to, or
    /// phished from, another signed-in user is refused with 403
    /// ([`RejectionKind::WrongUser`]). [`SessionInteraction`] does this as an extractor.
    pub fn check_user(&self, user: &Namespace) -> Result<(), InteractionRejection> {
        if self.pending.namespace() == user {
            Ok(())
        } else {
            Err(InteractionRejection::new(RejectionKind::WrongUser))
        }
    }
}

impl<T, L> Deref for Interaction<T, L> {
    type Target = Pending<T, Open>;

    fn deref(&self) -> &Pending<T, Open> {
        &self.pending
    }
}

impl<T, L, S> FromRequestParts<S> for Interaction<T, L>
where
    T: OobPayload + Send + Sync + 'static,
    L: InteractionSource<Payload = T> + FromRef<S>,
    S: Send + Sync,
{
    type Rejection = InteractionRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Behind an `InteractionLayer` the pending is loaded already.
        if let Some(pending) = parts
            .extensions
            .get::<InteractionContext<T>>()
            .and_then(InteractionContext::take_pending)
        {
            return Ok(Self::new(pending));
        }
        let id = locate_id(parts, T::ROUTE).await?;
        let pending = L::from_ref(state).open_interaction(id).await?;
        Ok(Self::new(pending))
    }
}

/// An [`Interaction`] whose pending belongs to the user the service authenticated on this
/// browser request: the optional identity check, for services that sign their users in on
/// the web as well.
///
/// Your session middleware places the signed-in user's [`VerifiedSubject`] in the request
/// extensions (the same namespace your [`NamespaceProvider`](crate::NamespaceProvider)
/// derives for that user's tool calls). Without one the request is refused with 403
/// ([`RejectionKind::NoIdentity`]) before any lookup; with another user's pending, 403
/// ([`RejectionKind::WrongUser`]). To make the check atomic with the completion, complete
/// with [`Manager::complete_in`] and that namespace.
///
/// ```
/// use oob::http::SessionInteraction;
/// # #[derive(Clone, oob::OobPayload)] #[oob(kind = "k", route = "/cb/{id}")] struct ApiKey;
/// async fn page(ix: SessionInteraction<ApiKey>) -> String {
///     format!("Signed in as the owner of request {}", ix.id())
/// }
/// ```
pub struct SessionInteraction<T, L = Interactions<T>>(Interaction<T, L>);

impl<T, L> fmt::Debug for SessionInteraction<T, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SessionInteraction").field(&self.0).finish()
    }
}

impl<T, L> SessionInteraction<T, L> {
    /// The checked interaction.
    #[must_use]
    pub fn into_inner(self) -> Interaction<T, L> {
        self.0
    }

    /// The open pending, to complete, cancel or decline it.
    #[must_use]
    pub fn into_pending(self) -> Pending<T, Open> {
        self.0.pending
    }
}

impl<T, L> Deref for SessionInteraction<T, L> {
    type Target = Interaction<T, L>;

    fn deref(&self) -> &Interaction<T, L> {
        &self.0
    }
}

impl<T, L, S> FromRequestParts<S> for SessionInteraction<T, L>
where
    T: OobPayload + Send + Sync + 'static,
    L: InteractionSource<Payload = T> + FromRef<S>,
    S: Send + Sync,
{
    type Rejection = InteractionRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Some(user) = parts.extensions.get::<VerifiedSubject>().cloned() else {
            return Err(InteractionRejection::new(RejectionKind::NoIdentity));
        };
        let ix = Interaction::<T, L>::from_request_parts(parts, state).await?;
        ix.check_user(user.namespace())?;
        Ok(Self(ix))
    }
}
