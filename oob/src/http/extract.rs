//! [`Interaction`]: the extractor that loads the open pending a callback request names.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use axum::extract::{FromRef, FromRequestParts};
use http::request::Parts;

use super::forgery::check_same_origin;
use super::identity::{BrowserIdentity, OwnerCheck, Unchecked};
use super::layer::InteractionContext;
use super::locate::locate_id;
use super::rejection::{InteractionRejection, RejectionKind};
use super::source::{InteractionSource, Interactions};
use crate::namespace::Namespace;
use crate::payload::OobPayload;
use crate::pending::{AnyPending, Pending};
use crate::state::Open;

/// The open pending a callback request names, checked to belong to the person whose browser
/// sent the request: the Rust equivalent of the Go `NamespaceFromPending`, with the owner
/// check the MCP specification requires.
///
/// `U` says how the browser user is identified (there is no default): [`ExtensionUser`](super::ExtensionUser)
/// (a [`VerifiedSubject`](crate::provider::VerifiedSubject) your auth layer put in the
/// request extensions), `SessionUser` (feature `tower-sessions`), your
/// own [`BrowserUser`](super::BrowserUser), or [`Unchecked`] (spelled
/// [`UncheckedInteraction<T>`]) where the URL alone is the capability.
///
/// In this order, before anything about the pending is told:
/// 1. the id comes from the route's `{id}` path parameter (the payload's
///    [`ROUTE`](OobPayload::ROUTE) is axum route syntax) or, for a query route such as
///    `/oob?id={id}` (routed on [`route_path`](super::route_path)`(T::ROUTE)`), its query
///    parameter: 400 when missing or malformed;
/// 2. the browser user: 403 [`NoIdentity`](RejectionKind::NoIdentity) ("sign in") when
///    there is none;
/// 3. an unsafe method (POST, ...) a browser marks cross-site: 403
///    [`CrossSite`](RejectionKind::CrossSite) (see [`check_same_origin`](super::check_same_origin));
/// 4. the pending, in any state: 404 when unknown, 500 (generic body) when the store fails;
///    then 403 [`WrongUser`](RejectionKind::WrongUser) when it is another user's, *whatever
///    its state*: a non-owner learns nothing about it;
/// 5. for its owner: the open pending, or 200 [`Completed`](RejectionKind::Completed)
///    ("already done": a resubmit, a reload, a second tab) or 410 for a cancelled,
///    declined or expired one.
///
/// `L` is what loads the pending, read from the router state with [`FromRef`]: by default the
/// type-erased [`Interactions<T>`] (a state that *is* the [`Manager`](crate::Manager)
/// provides it), or name your manager type, `Interaction<T, U, Oob>`.
///
/// The handler completes the pending with
/// [`Manager::complete_with`](crate::Manager::complete_with): only the submit that wins the
/// completion gets the token to persist under the pending's namespace (a replayed submit gets
/// the "already done" page and no token), before the waiting tool call wakes.
/// [`AntiForgery`](super::AntiForgery) binds the form to the pending and the browser session:
///
/// ```
/// use std::collections::HashMap;
/// use axum::{Form, Router, extract::State, response::Html, routing::get};
/// use oob::http::{AntiForgery, ExtensionUser, Interaction, InteractionRejection, RejectionKind, interaction_headers};
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
/// // Your auth layer puts the signed-in user's `VerifiedSubject` in the request extensions.
/// type Owned = Interaction<ApiKey, ExtensionUser>;
///
/// #[derive(Clone)]
/// struct App { oob: Oob, forms: AntiForgery, vault: MemoryVault<String> }
/// impl axum::extract::FromRef<App> for oob::http::Interactions<ApiKey> {
///     fn from_ref(app: &App) -> Self { app.oob.interactions() }
/// }
/// impl axum::extract::FromRef<App> for AntiForgery {
///     fn from_ref(app: &App) -> Self { app.forms.clone() }
/// }
///
/// // GET: the pending is open and belongs to the signed-in user.
/// async fn form(State(forms): State<AntiForgery>, ix: Owned) -> Html<String> {
///     // `ix.data().service`: escape it if you render it
///     Html(format!("<form method=post><input type=hidden name={} value={}>\
///         <input name=key type=password><button>Save</button></form>",
///         AntiForgery::FIELD, forms.token(&ix)))
/// }
///
/// // POST: check the form's token, complete exactly once, persisting under the namespace.
/// async fn submit(
///     State(app): State<App>,
///     ix: Owned,
///     Form(mut f): Form<HashMap<String, String>>,
/// ) -> Result<&'static str, InteractionRejection> {
///     app.forms.verify(&ix, f.get(AntiForgery::FIELD).map_or("", String::as_str))?;
///     let key = f.remove("key").unwrap_or_default();
///     let vault = app.vault.clone(); // the persist step owns what it uses
///     let (oob, pending) = (app.oob.clone(), ix.into_pending());
///     // In a task of its own: a browser that goes away makes axum drop this handler, and
///     // the persist step with it; a spawned completion runs to its end.
///     tokio::spawn(async move {
///         oob.complete_with(pending, async move |token| vault.put(&token, "key", key).await).await
///     })
///     .await
///     .map_err(|_| RejectionKind::Internal)??; // a second submit: the "already done" page
///     Ok("Saved: you can close this tab.")
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let oob: Oob = Manager::builder()
///     .store(MemoryStore::new())
///     .provider(FromVerifiedSubject)
///     .callback_base(CallbackBase::parse("https://mcp.example.com")?)
///     .build();
/// let app = App { oob: oob.clone(), forms: AntiForgery::generate()?, vault: MemoryVault::new() };
/// let router: Router = Router::new()
///     .route(ApiKey::ROUTE, get(form).post(submit))
///     .layer(interaction_headers())
///     .with_state(app);
///
/// let alice = VerifiedSubject::new("alice".parse()?);
/// let open = oob.create(&alice, Spec::new(ApiKey { service: "github".into() })).await?;
/// let get_as = |who: Option<&str>| {
///     let mut req = http::Request::get(format!("/oob/key/{}", open.id()))
///         .body(axum::body::Body::empty()).unwrap();
///     if let Some(who) = who {
///         req.extensions_mut().insert(VerifiedSubject::new(who.parse().unwrap()));
///     }
///     tower::Service::call(&mut router.clone(), req)
/// };
/// assert_eq!(get_as(Some("alice")).await?.status(), 200);
/// assert_eq!(get_as(Some("mallory")).await?.status(), 403); // another user
/// assert_eq!(get_as(None).await?.status(), 403);            // signed out: "sign in"
/// # Ok(()) }
/// ```
pub struct Interaction<T, U, L = Interactions<T>> {
    pending: Pending<T, Open>,
    user: Option<BrowserIdentity>,
    _marker: PhantomData<fn() -> (U, L)>,
}

/// An [`Interaction`] with no owner check: whoever holds the URL acts on the pending (the
/// URL is a bearer capability, like a password-reset link).
///
/// Right only where no one else can hold the URL and the service cannot sign browser users
/// in: a local single-user tool, a CLI that opens the browser on its own machine. Anywhere
/// else, an attacker can send his own pending's link to a victim and collect the victim's
/// consent or secret in his namespace (or, with the victim's link, the reverse): use
/// [`Interaction`] with a [`BrowserUser`](super::BrowserUser). Without a user to check,
/// the state of a pending is told to anyone with its URL (200 "already done" when
/// completed, 410 when cancelled, declined or expired).
pub type UncheckedInteraction<T, L = Interactions<T>> = Interaction<T, Unchecked, L>;

impl<T, U, L> fmt::Debug for Interaction<T, U, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Interaction")
            .field("pending", &self.pending)
            .field("user", &self.user)
            .finish()
    }
}

impl<T, U, L> Interaction<T, U, L> {
    fn new(pending: Pending<T, Open>, user: Option<BrowserIdentity>) -> Self {
        Self {
            pending,
            user,
            _marker: PhantomData,
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

    /// The browser user the pending was checked against (`None` for [`Unchecked`]).
    #[must_use]
    pub fn user(&self) -> Option<&BrowserIdentity> {
        self.user.as_ref()
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
}

impl<T, U, L> Deref for Interaction<T, U, L> {
    type Target = Pending<T, Open>;

    fn deref(&self) -> &Pending<T, Open> {
        &self.pending
    }
}

/// Why a pending that is not open is refused, for its owner.
fn not_open<T>(any: AnyPending<T>) -> InteractionRejection {
    InteractionRejection::new(match any {
        AnyPending::Open(_) | AnyPending::Completed(_) => RejectionKind::Completed,
        AnyPending::Cancelled(p) if p.is_declined() => RejectionKind::Declined,
        AnyPending::Cancelled(_) => RejectionKind::Cancelled,
        AnyPending::Expired(_) => RejectionKind::Expired,
    })
}

/// Steps 1 to 5 of [`Interaction`]: the open pending a request names, checked against the
/// browser user `U` identifies (or not, for [`Unchecked`]).
pub(crate) async fn load<U, L>(
    parts: &mut Parts,
    source: &L,
) -> Result<(Pending<L::Payload, Open>, Option<BrowserIdentity>), InteractionRejection>
where
    U: OwnerCheck,
    L: InteractionSource,
{
    let id = locate_id(parts, L::Payload::ROUTE).await?;
    let user = U::owner(parts).await?;
    check_same_origin(parts)?;
    let Some(user) = user else {
        return Ok((source.open_interaction(id).await?, None));
    };
    let any = source.any_interaction(id).await?;
    if any.namespace() != user.namespace() {
        return Err(InteractionRejection::new(RejectionKind::WrongUser));
    }
    match any {
        AnyPending::Open(pending) => Ok((pending, Some(user))),
        finished => Err(not_open(finished)),
    }
}

impl<T, U, L, S> FromRequestParts<S> for Interaction<T, U, L>
where
    T: OobPayload + Send + Sync + 'static,
    U: OwnerCheck,
    L: InteractionSource<Payload = T> + FromRef<S>,
    S: Send + Sync,
{
    type Rejection = InteractionRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Behind an `InteractionLayer` the pending is loaded already; check this extractor's
        // user against it too (the layer may have checked another way, or not at all).
        if let Some(cx) = parts.extensions.get::<InteractionContext<T>>().cloned()
            && cx.has_pending()
        {
            let user = U::owner(parts).await?;
            check_same_origin(parts)?;
            if user
                .as_ref()
                .is_some_and(|u| u.namespace() != cx.namespace())
            {
                return Err(InteractionRejection::new(RejectionKind::WrongUser));
            }
            if let Some(pending) = cx.take_pending() {
                return Ok(Self::new(pending, user));
            }
        }
        let (pending, user) = load::<U, L>(parts, &L::from_ref(state)).await?;
        Ok(Self::new(pending, user))
    }
}
