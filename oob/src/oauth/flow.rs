//! [`OAuth`]: consents, token exchange, refresh across replicas and revocation.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use oauth2::basic::BasicErrorResponseType;
use oauth2::{CsrfToken, PkceCodeChallenge, PkceCodeVerifier, RequestTokenError, Scope};

use super::config::Provider;
use super::consent::Consent;
use super::http_client::{HttpError, default_client};
use super::tokens::TokenSet;
use crate::error::Error;
use crate::manager::{Joined, Manager};
use crate::pending::Pending;
use crate::provider::NamespaceProvider;
use crate::spec::Spec;
use crate::state::Open;
use crate::store::Store;
use crate::vault::{Vault, VaultError};

/// Why [`OAuth`] could not give an access token (or finish a step).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// The user has not consented (or revoked the grant, or the refresh token was
    /// rejected): hand them this open pending's [`callback_url`](Pending::callback_url).
    #[error("the user must consent at the provider first")]
    ConsentRequired(Box<Pending<Consent, Open>>),
    /// The user declined within the manager's decline cooldown.
    #[error("the user declined to connect this provider")]
    Declined,
    /// The token has expired and its refresh is held elsewhere: another replica has been
    /// refreshing it for longer than the refresh lease, or abandoned its refresh for want of
    /// an answer and holds the lease until it ends (the provider may still act on that
    /// request). Try again after the lease.
    #[error("the token is being refreshed elsewhere; try again")]
    Busy,
    /// The provider refused a request (other than a rejected grant), or could not be
    /// reached.
    #[error("the provider refused or could not be reached")]
    Provider(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The manager failed (store, provider of namespaces).
    #[error(transparent)]
    Manager(#[from] Error),
    /// The vault failed.
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// The HTTP client could not be built.
    #[error("the HTTP client could not be built")]
    Client(#[source] reqwest::Error),
}

type TokenError = RequestTokenError<HttpError, oauth2::basic::BasicErrorResponse>;

/// Whether the provider rejected the grant itself (revoked, expired, or a bad code):
/// `invalid_grant`, or GitHub's codes for the same, which it answers with status 200.
pub(crate) fn is_rejected_grant(e: &TokenError) -> bool {
    match e {
        RequestTokenError::ServerResponse(r) => *r.error() == BasicErrorResponseType::InvalidGrant,
        RequestTokenError::Parse(_, body) => matches!(
            super::endpoint::EndpointError::error_in_body(body).as_deref(),
            Some("invalid_grant" | "bad_refresh_token" | "bad_verification_code")
        ),
        _ => false,
    }
}

pub(super) fn provider_error(e: impl std::error::Error + Send + Sync + 'static) -> OAuthError {
    OAuthError::Provider(Box::new(e))
}

/// OAuth consents for one [`Provider`]: a [`Manager`] of [`Consent`] pendings, a vault of
/// [`TokenSet`]s (put it under an `EncryptedVault` in production, feature `encryption`), and the
/// provider. Cheap to clone.
pub struct OAuth<S, P, V> {
    pub(super) inner: Arc<Inner<S, P, V>>,
}

pub(super) struct Inner<S, P, V> {
    pub(super) manager: Manager<Consent, S, P>,
    pub(super) vault: V,
    pub(super) provider: Provider,
    pub(super) http: reqwest::Client,
    pub(super) refresh_margin: Duration,
    pub(super) lease: Duration,
    /// The callbacks being handled, shared by every copy of this flow.
    pub(super) exchanges: Arc<super::exchanges::Exchanges>,
}

impl<S, P, V> OAuth<S, P, V> {
    /// The resource label a consent pending is created with (its alias is none): what a
    /// consent is deduplicated by, and what the MCP glue recognises one by.
    pub(crate) fn consent_resource(&self) -> &str {
        &self.inner.provider.name
    }
}

/// The shortest [refresh lease](OAuth::refresh_lease): a second (a refresh may take half of
/// it; a shorter lease would abandon every refresh before its answer).
pub const MIN_REFRESH_LEASE: Duration = Duration::from_secs(1);

/// The longest [refresh lease](OAuth::refresh_lease): a day (a refresh is one request; a
/// replica that stops mid-refresh holds up the others for the lease).
pub const MAX_REFRESH_LEASE: Duration = Duration::from_secs(24 * 60 * 60);

impl<S, P, V> Clone for OAuth<S, P, V> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<S, P, V> fmt::Debug for OAuth<S, P, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuth")
            .field("provider", &self.inner.provider)
            .finish_non_exhaustive()
    }
}

impl<S, P, V> OAuth<S, P, V>
where
    S: Store<Consent>,
    P: Send + Sync + 'static,
    V: Vault<TokenSet> + Clone,
{
    /// Consents for `provider`, pendings in `manager`, tokens in `vault`. Token requests go
    /// through a `reqwest` client that follows no redirects (enable a TLS feature of
    /// `reqwest` in your application for `https` providers).
    ///
    /// # Errors
    /// The HTTP client could not be built.
    pub fn new(
        manager: Manager<Consent, S, P>,
        vault: V,
        provider: Provider,
    ) -> Result<Self, OAuthError> {
        let http = default_client().map_err(OAuthError::Client)?;
        Ok(Self {
            inner: Arc::new(Inner {
                manager,
                vault,
                provider,
                http,
                refresh_margin: Duration::from_secs(30),
                lease: Duration::from_secs(30),
                exchanges: Arc::default(),
            }),
        })
    }

    /// How long before its expiry an access token is refreshed (default 30 s; a margin
    /// longer than any token's lifetime refreshes on every call). A grant without a refresh
    /// token serves its access token until it expires, then asks for consent again.
    #[must_use]
    pub fn refresh_margin(self, margin: Duration) -> Self {
        self.with(|i| i.refresh_margin = margin)
    }

    /// How long one replica alone may refresh a token (default 30 s); the others wait for
    /// its result (or are served the current access token while it is still valid). A
    /// refresh whose request has no answer within the lease minus 5 s (half the lease, for a
    /// lease under 10 s), counted from before the lease is written, is abandoned with
    /// [`EndpointError::TimedOut`](super::EndpointError::TimedOut) and keeps the lease until
    /// it ends, so no answer is acted on once another replica may have taken over, and no
    /// replica spends the refresh token again while the provider may still act on it.
    /// Between [`MIN_REFRESH_LEASE`] and [`MAX_REFRESH_LEASE`]: a lease outside is the
    /// nearest of them.
    #[must_use]
    pub fn refresh_lease(self, lease: Duration) -> Self {
        self.with(|i| i.lease = lease.clamp(MIN_REFRESH_LEASE, MAX_REFRESH_LEASE))
    }

    /// Token requests through this client (it should not follow redirects). A refresh
    /// request is cut off before the [refresh lease](Self::refresh_lease) ends, and a code
    /// exchange after [`EXCHANGE_TIMEOUT`](super::EXCHANGE_TIMEOUT), whatever the client's
    /// own timeout; an answer over [`MAX_RESPONSE_BODY`](super::MAX_RESPONSE_BODY) is
    /// refused unread.
    #[must_use]
    pub fn http_client(self, client: reqwest::Client) -> Self {
        self.with(|i| i.http = client)
    }

    fn with(self, f: impl FnOnce(&mut Inner<S, P, V>)) -> Self {
        let mut inner = match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner,
            Err(shared) => Inner {
                manager: shared.manager.clone(),
                vault: shared.vault.clone(),
                provider: shared.provider.clone(),
                http: shared.http.clone(),
                refresh_margin: shared.refresh_margin,
                lease: shared.lease,
                exchanges: shared.exchanges.clone(),
            },
        };
        f(&mut inner);
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The consent manager.
    #[must_use]
    pub fn manager(&self) -> &Manager<Consent, S, P> {
        &self.inner.manager
    }

    /// The vault the token sets are stored in.
    #[must_use]
    pub fn vault(&self) -> &V {
        &self.inner.vault
    }

    /// The provider.
    #[must_use]
    pub fn provider(&self) -> &Provider {
        &self.inner.provider
    }

    /// The caller's open consent pending (created, or joined if one is open), to hand its
    /// URL to the user.
    pub async fn start<C: ?Sized>(&self, cx: &C) -> Result<Pending<Consent, Open>, OAuthError>
    where
        P: NamespaceProvider<C>,
    {
        let (_challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let consent = Consent::new(
            self.inner.provider.name.clone(),
            self.inner.provider.scopes.clone(),
            verifier.secret().clone(),
        );
        let spec = Spec::new(consent).resource(self.consent_resource().to_owned());
        match self.inner.manager.create_or_join(cx, spec).await? {
            Joined::Created(p) | Joined::Joined(p) => Ok(p),
            Joined::Declined(_) => Err(OAuthError::Declined),
        }
    }

    pub(super) async fn consent_required<C: ?Sized>(&self, cx: &C) -> OAuthError
    where
        P: NamespaceProvider<C>,
    {
        match self.start(cx).await {
            Ok(open) => OAuthError::ConsentRequired(Box::new(open)),
            Err(e) => e,
        }
    }

    /// The provider's authorization URL for an open consent: PKCE S256 from the pending's
    /// verifier, and a `state` that names the pending and carries a tag keyed by that
    /// verifier (the callback refuses a `state` without it: one made from the pending's id,
    /// which the assistant saw, is not enough).
    ///
    /// This URL is for the pending's owner's browser only (the start page sends it there
    /// after its owner check): do not show it to the assistant.
    #[must_use]
    pub fn authorization_url(&self, pending: &Pending<Consent, Open>) -> String {
        // (Every `Consent` holds a verifier of RFC 7636's shape, which the challenge
        // asserts: one decoded from a record is checked, see `consent.rs`.)
        let verifier = PkceCodeVerifier::new(pending.data().verifier().to_owned());
        let state = super::state::state(pending.data(), pending.id());
        let (url, _state) = self
            .inner
            .provider
            .client
            .authorize_url(|| CsrfToken::new(state))
            .add_scopes(pending.data().scopes().iter().cloned().map(Scope::new))
            .set_pkce_challenge(PkceCodeChallenge::from_code_verifier_sha256(&verifier))
            .url();
        url.into()
    }
}
