//! The consent callback's code exchange ([`OAuth::finish`]): the code for tokens, within
//! [`EXCHANGE_TIMEOUT`], then the completion that stores them under the consent's namespace.

use std::time::{Duration, SystemTime};

use oauth2::{AuthorizationCode, PkceCodeVerifier, TokenResponse};

use super::consent::Consent;
use super::endpoint::{EndpointError, endpoint_error};
use super::flow::{OAuth, OAuthError, is_rejected_grant, provider_error};
use super::http_client::Http;
use super::tokens::TokenSet;
use crate::error::Error;
use crate::pending::{AnyPending, Pending};
use crate::state::{Completed, Open};
use crate::store::Store;
use crate::vault::{Vault, WriteOptions};

/// The longest a callback waits for the provider to exchange its code for tokens (30
/// seconds), whatever the HTTP client's own timeout: the consent's other callbacks wait
/// for this one (one exchange per consent at a time), so an exchange that never ends would
/// hold them all. Past it, [`EndpointError::TimedOut`](super::EndpointError::TimedOut), and
/// the page asks the user to try again.
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

impl<S, P, V> OAuth<S, P, V>
where
    S: Store<Consent>,
    P: Send + Sync + 'static,
    V: Vault<TokenSet> + Clone,
{
    /// Exchanges `code` for the pending's tokens and completes it, storing them in the vault
    /// under the pending's namespace (the winning completion's token). A code the provider
    /// rejects leaves the pending open (the user may start again).
    pub(crate) async fn finish(
        &self,
        open: Pending<Consent, Open>,
        code: String,
    ) -> Result<Pending<Consent, Completed>, FinishError> {
        let verifier = PkceCodeVerifier::new(open.data().verifier().to_owned());
        let http = Http(&self.inner.http);
        let exchange = self
            .inner
            .provider
            .client
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(verifier)
            .request_async(&http);
        let r = tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
            .await
            .map_err(|_| FinishError::Provider(provider_error(EndpointError::TimedOut)))?
            .map_err(|e| {
                if is_rejected_grant(&e) {
                    FinishError::Rejected
                } else {
                    FinishError::Provider(endpoint_error(e))
                }
            })?;
        let set = TokenSet::new(
            r.access_token().secret().clone(),
            r.refresh_token().map(|t| t.secret().clone()),
            r.expires_in(),
            scopes_of(&r, open.data().scopes()),
            SystemTime::now(),
        );
        let (vault, key) = (self.inner.vault.clone(), self.inner.provider.vault_key());
        let id = open.id();
        let completed = self
            .inner
            .manager
            .complete_with(open, async move |token| {
                // A provider that issues a refresh token at the first consent only (Google,
                // unless asked for offline access again) answers a new consent without one:
                // the stored one stays valid, and is kept.
                let set = match (set.refresh_token(), vault.get(&token, &key).await) {
                    (None, Ok(Some(old))) => match old.refresh_token() {
                        Some(kept) => set.with_refresh_token(kept.to_owned()),
                        None => set,
                    },
                    _ => set,
                };
                vault
                    .write(&token, &key, set, WriteOptions::new())
                    .await
                    .map(|_| ())
            })
            .await;
        match completed {
            Ok((done, ())) => Ok(done),
            // Another callback (a double submit) or the expiry ended it first.
            Err(Error::Finished { .. } | Error::Expired(_)) => Err(FinishError::Ended),
            // The consent is completed, its tokens not stored: nothing to try again here.
            Err(e @ Error::Persist { .. }) => Err(FinishError::NotSaved(e.into())),
            // A store failure may come after the completion applied (a replica that did not
            // acknowledge it in time): then, too, nothing was stored and this consent is used.
            Err(e) => Err(match self.inner.manager.get(id).await {
                Ok(AnyPending::Completed(_)) => FinishError::NotSaved(e.into()),
                _ => FinishError::Provider(e.into()),
            }),
        }
    }
}

/// Why the callback could not finish a consent.
#[derive(Debug)]
pub(crate) enum FinishError {
    /// The provider rejected the code (bad, reused or expired): the user may start again.
    Rejected,
    /// The pending ended while the code was exchanged (another callback completed it
    /// first, or it expired): the exchanged tokens are dropped.
    Ended,
    /// The provider failed, or completing failed.
    Provider(OAuthError),
    /// The consent completed, but storing its tokens failed: the user needs a new consent.
    NotSaved(OAuthError),
}

pub(super) fn scopes_of(r: &oauth2::basic::BasicTokenResponse, asked: &[String]) -> Vec<String> {
    r.scopes().map_or_else(
        || asked.to_vec(),
        |s| s.iter().map(|s| s.to_string()).collect(),
    )
}
