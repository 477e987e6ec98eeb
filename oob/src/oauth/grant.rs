//! The life of a grant: the access token (refreshed across replicas) and its revocation.

use std::time::{Duration, SystemTime};

use oauth2::{RefreshToken, StandardRevocableToken, TokenResponse};

use super::endpoint::{EndpointError, endpoint_error};
use super::finish::scopes_of;
use super::flow::{OAuth, OAuthError, is_rejected_grant, provider_error};
use super::http_client::{Http, MAX_RESPONSE_BODY, read_capped};
use super::lease::{Held, ended, store_refreshed};
use super::tokens::{AccessToken, TokenSet};
use crate::provider::NamespaceProvider;
use crate::store::Store;
use crate::vault::{Vault, VaultError, WriteOptions};

use super::consent::Consent;

/// How long before its lease ends a refresh gives up on the provider's answer: the lease is
/// the time this replica alone may refresh, and after it another replica may take over and
/// spend the same refresh token, so no answer may be acted on after it (clocks of replicas
/// may differ by up to this much).
const LEASE_MARGIN: Duration = Duration::from_secs(5);

impl<S, P, V> OAuth<S, P, V>
where
    S: Store<Consent>,
    P: Send + Sync + 'static,
    V: Vault<TokenSet> + Clone,
{
    /// The caller's access token: from the vault, refreshed first when it expires within the
    /// refresh margin. [`OAuthError::ConsentRequired`] (with the pending to hand the user)
    /// when there is no grant, the provider rejected the refresh token, or the stored grant
    /// cannot be opened (sealed under a key the vault's ring no longer holds, or of a shape
    /// this version does not read): the new consent's grant replaces it.
    pub async fn access_token<C: ?Sized>(&self, cx: &C) -> Result<AccessToken, OAuthError>
    where
        P: NamespaceProvider<C>,
    {
        let token = self.inner.manager.caller(cx)?;
        let key = self.inner.provider.vault_key();
        let vault = &self.inner.vault;
        let give_up = tokio::time::Instant::now() + self.inner.lease + Duration::from_secs(5);
        loop {
            let entry = match vault.read(&token, &key).await {
                Ok(Some(entry)) => entry,
                Ok(None) => return Err(self.consent_required(cx).await),
                Err(e) if unreadable(&e) => {
                    log_unreadable(&e);
                    return Err(self.consent_required(cx).await);
                }
                Err(e) => return Err(e.into()),
            };
            let now = SystemTime::now();
            let set = entry.value();
            if set.is_leased(now) {
                // Another replica is refreshing: its token is served while it is still
                // valid (a refresh ahead of expiry), else this waits for the result; a
                // refresh abandoned there (no answer in time) has none to wait for.
                if !set.needs_refresh(now, Duration::ZERO) {
                    return Ok(set.access_token());
                }
                if set.is_abandoned(now) || tokio::time::Instant::now() >= give_up {
                    return Err(OAuthError::Busy);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            if !set.needs_refresh(now, self.inner.refresh_margin) {
                return Ok(set.access_token());
            }
            let Some(refresh) = set.refresh_token().map(str::to_owned) else {
                // Nothing to refresh with: the token serves until it expires (a provider
                // that issues tokens shorter than the margin, or a margin longer than the
                // token, must not end a grant that still works).
                if !set.needs_refresh(now, Duration::ZERO) {
                    return Ok(set.access_token());
                }
                // Gone only if it is still this entry (another replica may have stored a new
                // grant meanwhile): written as expired, under a compare-and-swap.
                match vault
                    .write(&token, &key, set.clone(), ended(entry.version()))
                    .await
                {
                    Ok(_) => return Err(self.consent_required(cx).await),
                    Err(VaultError::Conflict { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            };
            // The lease's clock starts before its write: a slow vault eats into the time
            // the request may take, never into the margin (see `LEASE_MARGIN`).
            let started = tokio::time::Instant::now();
            let (answer_by, lease_end) = (
                started + request_cap(self.inner.lease),
                started + self.inner.lease,
            );
            // Take the refresh: a compare-and-swap, so one replica refreshes at a time.
            let lease = set.leased_until(now + self.inner.lease);
            let leased = match vault
                .write(
                    &token,
                    &key,
                    lease.clone(),
                    WriteOptions::new().if_version(entry.version()),
                )
                .await
            {
                Ok(v) => v,
                Err(VaultError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            // Every write from here on applies only while the entry is still this lease.
            let mut held = Held::new(lease, leased);
            if tokio::time::Instant::now() >= answer_by {
                // No time left to ask (the lease write took it): nothing was sent.
                let _ = held.write(vault, &token, &key, set.released(), false).await;
                return serve_or(set, provider_error(EndpointError::TimedOut));
            }
            let c = &self.inner.provider.client;
            let http = Http(&self.inner.http);
            let answer = tokio::time::timeout_at(
                answer_by,
                c.exchange_refresh_token(&RefreshToken::new(refresh.clone()))
                    .request_async(&http),
            )
            .await;
            let Ok(answer) = answer else {
                // Abandoned before the lease ends. The provider may still act on it, so
                // the lease stays until it ends (no replica spends this refresh token again
                // before then), marked abandoned so that nobody waits for it.
                let abandoned = held.lease().abandoned();
                let _ = held.write(vault, &token, &key, abandoned, false).await;
                return serve_or(set, provider_error(EndpointError::TimedOut));
            };
            return match answer {
                Ok(r) => {
                    let fresh = TokenSet::new(
                        r.access_token().secret().clone(),
                        // A provider that does not rotate refresh tokens returns none.
                        Some(r.refresh_token().map_or(refresh, |t| t.secret().clone())),
                        r.expires_in(),
                        scopes_of(&r, set.scopes()),
                        SystemTime::now(),
                    );
                    let access = fresh.access_token();
                    match store_refreshed(vault, &token, &key, fresh, &mut held, lease_end).await {
                        // Another writer (a new consent) came first: its entry is read.
                        Err(VaultError::Conflict { .. }) => continue,
                        // Stored, or not storable while the lease lasted: the access token
                        // is good either way.
                        _ => Ok(access),
                    }
                }
                Err(e) if is_rejected_grant(&e) => {
                    // Gone only if the lease is still ours: a grant stored since (a new
                    // consent) is kept, and read again.
                    match held.write(vault, &token, &key, set.released(), true).await {
                        Ok(_) => Err(self.consent_required(cx).await),
                        Err(VaultError::Conflict { .. }) => continue,
                        Err(e) => Err(e.into()),
                    }
                }
                Err(e) => {
                    // An answer (an error response, one that does not parse: a proxy's 502
                    // page) or a connection never made: the refresh token is not known to be
                    // spent, and the lease is released if still ours (a release that finds
                    // it taken over is no failure of this call). A connection lost after the
                    // request went out may have spent it: the lease stays until it ends,
                    // marked abandoned so that nobody waits for it.
                    let next = if lost_in_flight(&e) {
                        held.lease().abandoned()
                    } else {
                        set.released()
                    };
                    let _ = held.write(vault, &token, &key, next, false).await;
                    serve_or(set, endpoint_error(e))
                }
            };
        }
    }

    /// Revokes the caller's grant: at the provider (its refresh token, else its access
    /// token) when a revocation URL is configured, and in the vault. Returns whether there
    /// was one. A refresh in progress on another replica is waited for (up to its lease),
    /// so the token revoked is the one it rotated to; and the grant leaves the vault only if
    /// it is still the one revoked (a compare-and-swap): one stored meanwhile is revoked in
    /// turn. A stored grant that cannot be opened (see [`access_token`](Self::access_token))
    /// is deleted here (only while it is still that grant: one a new consent stored
    /// meanwhile is revoked in turn), and cannot be revoked at the provider: nobody here can
    /// read its tokens any more.
    pub async fn revoke<C: ?Sized>(&self, cx: &C) -> Result<bool, OAuthError>
    where
        P: NamespaceProvider<C>,
    {
        let token = self.inner.manager.caller(cx)?;
        let key = self.inner.provider.vault_key();
        let vault = &self.inner.vault;
        let give_up = tokio::time::Instant::now() + self.inner.lease + Duration::from_secs(5);
        loop {
            let entry = match vault.read(&token, &key).await {
                Ok(Some(entry)) => entry,
                Ok(None) => return Ok(false),
                Err(e) if unreadable(&e) => {
                    log_unreadable(&e);
                    match delete_unreadable(vault, &token, &key).await? {
                        Some(deleted) => return Ok(deleted),
                        // Replaced meanwhile (a new consent): that grant is revoked in turn.
                        None => continue,
                    }
                }
                Err(e) => return Err(e.into()),
            };
            let set = entry.value();
            let now = SystemTime::now();
            if set.is_leased(now) && !set.is_abandoned(now) && tokio::time::Instant::now() < give_up
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            self.revoke_at_provider(set).await?;
            match vault
                .write(&token, &key, set.released(), ended(entry.version()))
                .await
            {
                Ok(_) => return Ok(true),
                Err(VaultError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Revokes `set`'s refresh token (else its access token) at the provider, when it has a
    /// revocation endpoint.
    async fn revoke_at_provider(&self, set: &TokenSet) -> Result<(), OAuthError> {
        let (hint, secret) = match set.refresh_token() {
            Some(r) => ("refresh_token", r.to_owned()),
            None => ("access_token", set.access_token().secret().to_owned()),
        };
        let provider = &self.inner.provider;
        if provider.client.revocation_url().is_some() {
            let t = match hint {
                "refresh_token" => StandardRevocableToken::RefreshToken(RefreshToken::new(secret)),
                _ => StandardRevocableToken::AccessToken(oauth2::AccessToken::new(secret)),
            };
            provider
                .client
                .revoke_token(t)
                .map_err(provider_error)?
                .request_async(&Http(&self.inner.http))
                .await
                .map_err(endpoint_error)?;
        } else if let Some(url) = &provider.loopback_revocation {
            // RFC 7009 on a loopback development endpoint (the `oauth2` crate requires https).
            let res = self
                .inner
                .http
                .post(url.as_str())
                .basic_auth(&provider.client_id, provider.client_secret.as_deref())
                .form(&[("token", secret.as_str()), ("token_type_hint", hint)])
                .send()
                .await
                .map_err(provider_error)?;
            let status = res.status().as_u16();
            if !res.status().is_success() {
                // Only the error code: the body may echo the token sent.
                let body = read_capped(res, MAX_RESPONSE_BODY)
                    .await
                    .unwrap_or_default();
                let body = serde_json::from_slice(&body).unwrap_or_default();
                let code = EndpointError::error_code(&body);
                return Err(provider_error(RevocationRefused(status, code)));
            }
        }
        Ok(())
    }
}

/// Whether a token request failed after it may have reached the provider: a transport
/// failure other than one to connect (a reset, a timeout while reading the answer).
fn lost_in_flight<T>(e: &oauth2::RequestTokenError<super::http_client::HttpError, T>) -> bool
where
    T: oauth2::ErrorResponse,
{
    match e {
        oauth2::RequestTokenError::Request(super::http_client::HttpError::Request(e)) => {
            !(e.is_connect() || e.is_builder())
        }
        // The provider answered (it may have rotated the refresh token), unreadably.
        oauth2::RequestTokenError::Request(super::http_client::HttpError::TooLarge { .. }) => true,
        _ => false,
    }
}

/// The stored access token while it is still valid (a refresh ahead of its expiry failed:
/// the provider's failure is logged), else `failure`.
fn serve_or(set: &TokenSet, failure: OAuthError) -> Result<AccessToken, OAuthError> {
    if set.needs_refresh(SystemTime::now(), Duration::ZERO) {
        return Err(failure);
    }
    #[cfg(feature = "tracing")]
    tracing::warn!(target: "oob", error = %failure, "oauth refresh failed; serving the current access token until it expires");
    Ok(set.access_token())
}

/// Deletes the grant under `key` only while it is still one that cannot be opened (a plain
/// delete would also take a grant a new consent stored since the failed read, unrevoked).
/// Its version is learned from a write that cannot apply (only if absent, and already
/// expired), the entry is read again (still unreadable), then ended under a compare-and-swap
/// on that version: versions are random, so an unchanged one means no write came between.
/// `Some(deleted)`, or `None` when it changed meanwhile (read it again).
async fn delete_unreadable<V: Vault<TokenSet>>(
    vault: &V,
    token: &crate::capability::NamespaceToken<'_>,
    key: &str,
) -> Result<Option<bool>, VaultError> {
    let nothing = || TokenSet::new(String::new(), None, None, Vec::new(), SystemTime::now());
    let probe = WriteOptions::new()
        .if_absent()
        .expires_at(SystemTime::now());
    let version = match vault.write(token, key, nothing(), probe).await {
        // There was none (the expired write leaves none).
        Ok(_) | Err(VaultError::Conflict { current: None }) => return Ok(Some(false)),
        Err(VaultError::Conflict {
            current: Some(version),
        }) => version,
        // A version that does not decode (edited by hand) cannot be learned: a plain delete.
        Err(VaultError::Codec(_)) => return Ok(Some(vault.delete(token, key).await?)),
        Err(e) => return Err(e),
    };
    match vault.read(token, key).await {
        Err(e) if unreadable(&e) => {}
        Ok(None) => return Ok(Some(false)),
        Ok(Some(_)) => return Ok(None),
        Err(e) => return Err(e),
    }
    match vault.write(token, key, nothing(), ended(version)).await {
        Ok(_) => Ok(Some(true)),
        Err(VaultError::Conflict { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether a vault read failed because the stored grant cannot be opened (sealed under a
/// key the ring no longer holds, tampered, or not a `TokenSet` this version reads), rather
/// than because the vault is unreachable: such a grant is as good as none.
fn unreadable(e: &VaultError) -> bool {
    matches!(e, VaultError::Sealing(_) | VaultError::Codec(_))
}

/// A grant that cannot be opened, logged for the service (feature `tracing`): a key dropped
/// before every entry was resealed, or a `TokenSet` of another shape.
fn log_unreadable(e: &VaultError) {
    #[cfg(feature = "tracing")]
    tracing::warn!(target: "oob", error = %e, "oauth grant cannot be opened; asking for consent again");
    #[cfg(not(feature = "tracing"))]
    let _ = e;
}

/// The revocation endpoint answered with this status and error code
/// ([`EndpointError::error_code`]; nothing else of its body is kept).
#[derive(Debug, thiserror::Error)]
#[error("the revocation endpoint answered {0}: {1}")]
struct RevocationRefused(u16, String);

/// How long a refresh waits for the provider within a lease of `lease` (see
/// [`LEASE_MARGIN`]; half the lease when it is under twice the margin).
fn request_cap(lease: Duration) -> Duration {
    if lease >= LEASE_MARGIN * 2 {
        lease - LEASE_MARGIN
    } else {
        lease / 2
    }
}
