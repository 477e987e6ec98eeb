//! Who the browser user of an interaction request is: [`BrowserUser`] and its sources.

use std::future::Future;

use http::request::Parts;

use super::rejection::InteractionRejection;
use crate::namespace::Namespace;
use crate::provider::VerifiedSubject;

/// The browser user of an interaction request, as the service identified them: the namespace
/// (the same one your [`NamespaceProvider`](crate::NamespaceProvider) derives for that user's
/// tool calls) and, when the service has one, the id of the browser session, which
/// [`AntiForgery`](super::AntiForgery) tokens are bound to.
#[derive(Clone, PartialEq, Eq)]
pub struct BrowserIdentity {
    namespace: Namespace,
    session: Option<String>,
}

impl std::fmt::Debug for BrowserIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The namespace prints as its pseudonym; the session id is a credential: never printed.
        f.debug_struct("BrowserIdentity")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl BrowserIdentity {
    /// The user with this namespace, with no session binding.
    #[must_use]
    pub fn new(namespace: Namespace) -> Self {
        Self {
            namespace,
            session: None,
        }
    }

    /// Binds anti-forgery tokens to this browser session id as well.
    #[must_use]
    pub fn with_session(mut self, session: impl Into<String>) -> Self {
        self.session = Some(session.into());
        self
    }

    /// The user's namespace.
    #[must_use]
    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    pub(crate) fn session(&self) -> Option<&str> {
        self.session.as_deref()
    }
}

/// How an interaction route identifies the person whose browser sent the request: the second
/// type parameter of [`Interaction`](super::Interaction). The MCP specification requires the
/// server to check that the person who opens an interaction URL is the one it was created
/// for; this is where that person comes from.
///
/// Built in: [`ExtensionUser`] (a [`VerifiedSubject`] your auth layer put in the request
/// extensions) and, with feature `tower-sessions`, `SessionUser` (a
/// `tower_sessions::Session`). Implement it for your own session system; answer `Ok(None)`
/// for a request with no signed-in user (the extractor then answers 403
/// [`NoIdentity`](super::RejectionKind::NoIdentity), asking the user to sign in), and an
/// error only when the identity store itself fails.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not say who the browser user is",
    label = "not an `oob::http::BrowserUser`",
    note = "use `oob::http::ExtensionUser` (your auth layer puts a `VerifiedSubject` in the request extensions), `oob::http::SessionUser` (feature `tower-sessions`), your own `BrowserUser` impl, or, where the URL alone is the capability, `oob::http::Unchecked`"
)]
pub trait BrowserUser: Send + Sync + 'static {
    /// The signed-in user of this request, if any.
    fn identify(
        parts: &Parts,
    ) -> impl Future<Output = Result<Option<BrowserIdentity>, InteractionRejection>> + Send;
}

/// The browser user is the [`VerifiedSubject`] the service's auth layer (cookie session,
/// OIDC login, mTLS, ...) put in the request extensions; none means signed out.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExtensionUser;

impl BrowserUser for ExtensionUser {
    fn identify(
        parts: &Parts,
    ) -> impl Future<Output = Result<Option<BrowserIdentity>, InteractionRejection>> + Send {
        let found = parts
            .extensions
            .get::<VerifiedSubject>()
            .map(|s| BrowserIdentity::new(s.namespace().clone()));
        std::future::ready(Ok(found))
    }
}

/// No identity check: whoever holds the URL acts on the pending (the URL is a bearer
/// capability). Right only where the URL never leaves the owner's hands and the service has
/// no way to sign browser users in (a local single-user tool, a CLI that opens the
/// browser itself); an attacker who sends his own link to a victim gets the victim's answer
/// stored in the attacker's namespace. See [`UncheckedInteraction`](super::UncheckedInteraction).
#[derive(Debug, Clone, Copy, Default)]
pub struct Unchecked;

mod sealed {
    pub trait Sealed {}
}

/// What an [`Interaction`](super::Interaction) checks: a [`BrowserUser`], or [`Unchecked`].
/// Sealed; implement [`BrowserUser`] instead.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not say who the browser user is",
    label = "not an `oob::http::BrowserUser`",
    note = "use `oob::http::ExtensionUser` (your auth layer puts a `VerifiedSubject` in the request extensions), `oob::http::SessionUser` (feature `tower-sessions`), your own `BrowserUser` impl, or, where the URL alone is the capability, `oob::http::Unchecked`"
)]
pub trait OwnerCheck: sealed::Sealed + Send + Sync + 'static {
    /// `Some(user)` to check the pending against, `None` to skip the check.
    #[doc(hidden)]
    fn owner(
        parts: &Parts,
    ) -> impl Future<Output = Result<Option<BrowserIdentity>, InteractionRejection>> + Send;
}

impl<U: BrowserUser> sealed::Sealed for U {}

impl<U: BrowserUser> OwnerCheck for U {
    async fn owner(parts: &Parts) -> Result<Option<BrowserIdentity>, InteractionRejection> {
        match U::identify(parts).await? {
            Some(user) => Ok(Some(user)),
            None => Err(InteractionRejection::new(
                super::rejection::RejectionKind::NoIdentity,
            )),
        }
    }
}

impl sealed::Sealed for Unchecked {}

impl OwnerCheck for Unchecked {
    fn owner(
        _parts: &Parts,
    ) -> impl Future<Output = Result<Option<BrowserIdentity>, InteractionRejection>> + Send {
        std::future::ready(Ok(None))
    }
}
