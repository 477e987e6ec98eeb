//! [`InteractionSource`]: what loads the pendings an [`Interaction`](super::Interaction) names,
//! a [`Manager`] or the type-erased [`Interactions`] handle.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::FromRef;

use crate::error::Error;
use crate::id::PendingId;
use crate::manager::Manager;
use crate::payload::OobPayload;
use crate::pending::{AnyPending, Pending};
use crate::state::Open;
use crate::store::Store;

mod sealed {
    pub trait Sealed {}
}

/// What loads pendings for [`Interaction`](super::Interaction) and
/// [`InteractionLayer`](super::InteractionLayer): a [`Manager`] (any store, any provider) or
/// the type-erased [`Interactions`] handle. Sealed.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot load interactions",
    label = "not a manager or an `oob::http::Interactions<T>`",
    note = "use `Interaction<T, U>` with a state that provides `oob::http::Interactions<T>` (a `Manager<T, _, _>` state does), or `Interaction<T, U, YourManagerType>` with a state that provides the manager by `FromRef`"
)]
pub trait InteractionSource: sealed::Sealed + Clone + Send + Sync + 'static {
    /// The payload type of the pendings it loads.
    type Payload: OobPayload + Send + Sync + 'static;

    /// The open pending with this id (see [`Manager::open`]).
    fn open_interaction(
        &self,
        id: PendingId,
    ) -> impl Future<Output = Result<Pending<Self::Payload, Open>, Error>> + Send;

    /// The pending with this id in any state (see [`Manager::get`]), so that its owner is
    /// checked before its state is told.
    fn any_interaction(
        &self,
        id: PendingId,
    ) -> impl Future<Output = Result<AnyPending<Self::Payload>, Error>> + Send;
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

    fn any_interaction(
        &self,
        id: PendingId,
    ) -> impl Future<Output = Result<AnyPending<T>, Error>> + Send {
        self.get(id)
    }
}

type BoxFuture<'a, O> = Pin<Box<dyn Future<Output = O> + Send + 'a>>;

trait DynSource<T>: Send + Sync + 'static {
    fn open_boxed(&self, id: PendingId) -> BoxFuture<'_, Result<Pending<T, Open>, Error>>;
    fn any_boxed(&self, id: PendingId) -> BoxFuture<'_, Result<AnyPending<T>, Error>>;
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

    fn any_boxed(&self, id: PendingId) -> BoxFuture<'_, Result<AnyPending<T>, Error>> {
        Box::pin(self.get(id))
    }
}

/// A type-erased handle that loads open pendings of payload type `T` from a [`Manager`],
/// whatever its store and provider: what [`Interaction`](super::Interaction) reads from the
/// router state, so handler signatures name only the payload and identity types. Cloning is
/// cheap.
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

    fn any_interaction(
        &self,
        id: PendingId,
    ) -> impl Future<Output = Result<AnyPending<T>, Error>> + Send {
        self.source.any_boxed(id)
    }
}

/// Interaction routes (feature `axum`).
impl<T, St, P> Manager<T, St, P>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    St: Store<T>,
    P: Send + Sync + 'static,
{
    /// A type-erased [`Interactions`] handle on this manager, for
    /// [`Interaction`](super::Interaction).
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
