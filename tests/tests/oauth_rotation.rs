//! Refreshing a grant with a provider that rotates refresh tokens and revokes the whole
//! grant when one is used twice (as rotating providers with reuse detection do): no refresh
//! token is spent twice and no grant is lost, whatever the vault or the provider does in
//! between. Found in a hostile review (2026-12-07): a vault write failing after a refresh
//! lost the rotated token; a slow lease write let a request outlive its lease; a slow or
//! failing provider broke calls while the access token was still valid and released the
//! lease at once; a new consent without a refresh token dropped the stored one; GitHub's
//! `200 {"error":"bad_refresh_token"}` never led to a new consent; a revoke racing a
//! refresh left the rotated token live; a new consent during a refresh failed the call.
//!
//! The rotating provider and the replicas are here; the cases are in `vault_faults` (a vault
//! that fails, lies or is slow), `provider_answers` (a token endpoint that is slow, fails or
//! answers a dead refresh token with 200) and `consents` (a new consent or a revoke meeting a
//! stored or refreshing grant).

#[path = "oauth_rotation/vault_faults.rs"]
mod vault_faults;

#[path = "oauth_rotation/provider_answers.rs"]
mod provider_answers;

#[path = "oauth_rotation/consents.rs"]
mod consents;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use oob::oauth::{OAuth, TokenSet};
use oob::provider::FromVerifiedSubject;
use oob::store::MemoryStore;
use oob::vault::{Vault, VaultError};
use reqwest::header;

mod oauth_support;
use oauth_support::FakeProvider;

fn json(body: &str) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_owned(),
    )
        .into_response()
}
fn refused() -> Response {
    let mut r = json(r#"{"error":"invalid_grant"}"#);
    *r.status_mut() = StatusCode::BAD_REQUEST;
    r
}

fn boom() -> VaultError {
    VaultError::Backend(Box::new(std::io::Error::other("vault down")))
}

/// A rotating provider: code -> A1/R1 (expires at once). Refresh with Rn (first use) ->
/// A(n+1)/R(n+1); any reuse of a spent refresh token revokes the whole grant (as rotating
/// providers do) and answers invalid_grant.
#[derive(Default)]
struct Rotating {
    next: AtomicUsize,
    spent: Mutex<Vec<String>>,
    revoked: std::sync::atomic::AtomicBool,
    uses: Mutex<Vec<String>>,
    hold_ms: AtomicUsize,
    expires_in: AtomicUsize,
}

fn rotating(p: Arc<Rotating>) -> Router {
    Router::new().route(
        "/token",
        post(move |body: String| {
            let p = p.clone();
            async move {
                let exp = p.expires_in.load(Ordering::SeqCst);
                if body.contains("grant_type=authorization_code") {
                    p.next.store(1, Ordering::SeqCst);
                    return json(&format!(
                        r#"{{"access_token":"A1","token_type":"bearer","expires_in":{exp},"refresh_token":"R1"}}"#
                    ));
                }
                let rt = body
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("refresh_token="))
                    .unwrap_or("")
                    .to_owned();
                p.uses.lock().unwrap().push(rt.clone());
                let current = format!("R{}", p.next.load(Ordering::SeqCst));
                let ok = {
                    let mut spent = p.spent.lock().unwrap();
                    if p.revoked.load(Ordering::SeqCst) || rt != current || spent.contains(&rt) {
                        p.revoked.store(true, Ordering::SeqCst);
                        false
                    } else {
                        spent.push(rt.clone());
                        true
                    }
                };
                let hold = p.hold_ms.load(Ordering::SeqCst);
                if hold > 0 {
                    tokio::time::sleep(Duration::from_millis(hold as u64)).await;
                }
                if !ok {
                    return refused();
                }
                let n = p.next.fetch_add(1, Ordering::SeqCst) + 1;
                json(&format!(
                    r#"{{"access_token":"A{n}","token_type":"bearer","expires_in":3600,"refresh_token":"R{n}"}}"#
                ))
            }
        }),
    )
}

/// Two replicas (flows) on `vault`s sharing one store of grants, with a 2 s refresh lease.
fn replica<V: Vault<TokenSet> + Clone>(
    op: &FakeProvider,
    vault: V,
) -> OAuth<MemoryStore<oob::oauth::Consent>, FromVerifiedSubject, V> {
    op.flow_with("fake", MemoryStore::new(), vault, Duration::ZERO)
        .refresh_lease(Duration::from_secs(2))
}

fn uses(p: &Rotating) -> Vec<String> {
    p.uses.lock().unwrap().clone()
}
