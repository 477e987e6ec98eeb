//! The routers that serve consents: one provider's ([`OAuth::router`]) or several providers'
//! on one router ([`OAuth::router_all`]), whose consents all share `Consent::ROUTE`.

use axum::Router;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::consent::Consent;
use super::flow::OAuth;
use super::pages::{Callback, malformed, unknown};
use super::tokens::TokenSet;
use crate::http::{BrowserUser, ExtensionUser, RejectionKind};
use crate::namespace::Namespace;
use crate::store::Store;
use crate::vault::Vault;

impl<S, P, V> OAuth<S, P, V>
where
    S: Store<Consent>,
    P: Send + Sync + 'static,
    V: Vault<TokenSet> + Clone,
{
    /// The consent routes: `Consent::ROUTE` (the pending's URL: owner check, then a redirect
    /// to the provider) and the provider's redirect path (owner check, `state` check, code
    /// exchange, completion). Refusals (signed out, another user, unknown link) carry their
    /// [`RejectionKind`] in the response extensions, like the interaction extractors'. The
    /// browser user is the [`VerifiedSubject`](crate::provider::VerifiedSubject)
    /// your auth layer put in the request extensions ([`ExtensionUser`]); see
    /// [`router_for`](Self::router_for) for another source (e.g. `tower-sessions`). For
    /// several providers in one service, see [`router_all`](Self::router_all).
    pub fn router<St: Clone + Send + Sync + 'static>(&self) -> Router<St> {
        self.router_for::<St, ExtensionUser>()
    }

    /// [`router`](Self::router), identifying the browser user with `U` (such as
    /// [`SessionUser`](crate::http) with feature `tower-sessions`, or your own
    /// [`BrowserUser`]).
    pub fn router_for<St, U>(&self) -> Router<St>
    where
        St: Clone + Send + Sync + 'static,
        U: BrowserUser,
    {
        Self::router_all_for::<St, U>([self.clone()])
    }

    /// One router for several providers' consents (GitHub and Google, say): every consent
    /// has the URL `Consent::ROUTE`, so two [`router`](Self::router)s cannot be merged. This
    /// one serves that URL once, handing each consent to the flow of its own provider, and
    /// each provider's callback on its redirect path. The flows may share one consent store
    /// or each have their own.
    ///
    /// # Panics
    /// Two flows with the same redirect path (each provider needs its own callback route) or
    /// the same provider name (a consent names its provider): a configuration error, found
    /// when the router is built.
    pub fn router_all<St>(flows: impl IntoIterator<Item = Self>) -> Router<St>
    where
        St: Clone + Send + Sync + 'static,
    {
        Self::router_all_for::<St, ExtensionUser>(flows)
    }

    /// [`router_all`](Self::router_all), identifying the browser user with `U`.
    ///
    /// # Panics
    /// As [`router_all`](Self::router_all).
    pub fn router_all_for<St, U>(flows: impl IntoIterator<Item = Self>) -> Router<St>
    where
        St: Clone + Send + Sync + 'static,
        U: BrowserUser,
    {
        let flows: std::sync::Arc<[Self]> = flows.into_iter().collect();
        refuse_shared(
            "redirect path",
            flows
                .iter()
                .map(|f| f.inner.provider.redirect_path.as_str()),
        );
        refuse_shared("name", flows.iter().map(|f| f.inner.provider.name.as_str()));
        let start = flows.clone();
        let mut router = Router::new().route(
            <Consent as crate::OobPayload>::ROUTE,
            get(
                move |id: Result<Path<String>, PathRejection>, parts: http::request::Parts| {
                    let flows = start.clone();
                    async move {
                        // axum's own rejection would answer its text, without the pages' headers.
                        let Ok(Path(id)) = id else {
                            return malformed();
                        };
                        match user_of::<U>(&parts).await {
                            Ok(user) => start_any(&flows, &id, user.as_ref()).await,
                            Err(rejection) => rejection,
                        }
                    }
                },
            ),
        );
        for flow in flows.iter() {
            let oauth = flow.clone();
            router = router.route(
                &flow.inner.provider.redirect_path,
                get(
                    move |q: Result<Query<Callback>, QueryRejection>,
                          parts: http::request::Parts| {
                        let oauth = oauth.clone();
                        async move {
                            let Ok(Query(q)) = q else {
                                return malformed();
                            };
                            match user_of::<U>(&parts).await {
                                Ok(user) => oauth.callback_page(q, user.as_ref()).await,
                                Err(rejection) => rejection,
                            }
                        }
                    },
                ),
            );
        }
        router
    }
}

/// The namespace of the browser user `U` identifies (`None`: signed out), or the page of
/// its rejection.
async fn user_of<U: BrowserUser>(
    parts: &http::request::Parts,
) -> Result<Option<Namespace>, Response> {
    match U::identify(parts).await {
        Ok(user) => Ok(user.map(|u| u.namespace().clone())),
        Err(rejection) => Err(rejection.into_response()),
    }
}

/// Panics when two flows share `what` (see [`OAuth::router_all`]'s panics).
fn refuse_shared<'a>(what: &str, values: impl Iterator<Item = &'a str>) {
    let mut values: Vec<&str> = values.collect();
    values.sort_unstable();
    if let Some(w) = values.windows(2).find(|w| w[0] == w[1]) {
        panic!(
            "two OAuth providers share the {what} {:?}: give each its own",
            w[0]
        );
    }
}

/// The start page of the flow whose provider the consent is for: each flow answers "unknown"
/// for another provider's consent (and for one its store does not hold), so the first answer
/// that is neither "unknown" nor a failure of that flow's store is the consent's own. A
/// store failure is the answer only when no other flow knows the consent.
async fn start_any<S, P, V>(
    flows: &[OAuth<S, P, V>],
    id: &str,
    user: Option<&Namespace>,
) -> Response
where
    S: Store<Consent>,
    P: Send + Sync + 'static,
    V: Vault<TokenSet> + Clone,
{
    let mut failed = None;
    for flow in flows {
        let res = flow.start_page(id, user).await;
        match res.extensions().get::<RejectionKind>() {
            Some(RejectionKind::NotFound) => {}
            Some(RejectionKind::Internal) => {
                failed.get_or_insert(res);
            }
            _ => return res,
        }
    }
    failed.unwrap_or_else(unknown)
}
