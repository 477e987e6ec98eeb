//! The third party of the demo: a small OAuth 2.1 authorization server in this process, on
//! its own port, so the example runs with nothing else installed. It is the *other side*:
//! the example's client side is `oob::oauth` and never looks inside it.
//!
//! It requires PKCE (S256) and the client's secret (HTTP Basic), issues single-use codes,
//! short-lived access tokens ([`ACCESS_TTL`]) with rotating refresh tokens, serves
//! `userinfo`, and revokes (RFC 7009). [`AuthServer::revoke_user`] is the user revoking the
//! app in the provider's account settings.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use oob_examples::{escape, page, random_bytes};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

/// This service's registration at the provider.
pub(crate) const CLIENT_ID: &str = "oob-demo";
/// Its secret.
pub(crate) const CLIENT_SECRET: &str = "demo-secret";
/// How long an access token lives: short, so the demo shows a refresh.
pub(crate) const ACCESS_TTL: Duration = Duration::from_secs(3);
/// The one account at this provider.
pub(crate) const USER: &str = "upstream-user-42";

/// An authorization request waiting for the user's decision.
#[derive(Clone)]
struct Request {
    state: String,
    challenge: String,
    scope: String,
}

#[derive(Default)]
struct Grants {
    requests: HashMap<String, Request>,
    /// Code -> PKCE challenge and scope (single use).
    codes: HashMap<String, (String, String)>,
    /// Access token -> expiry.
    access: HashMap<String, Instant>,
    /// Live refresh tokens -> scope.
    refresh: HashMap<String, String>,
    refreshed: usize,
}

/// The authorization server. Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct AuthServer {
    redirect_uri: String,
    grants: Arc<Mutex<Grants>>,
}

fn token() -> Result<String, StatusCode> {
    random_bytes::<16>()
        .map(hex::encode)
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

impl AuthServer {
    /// A server whose one client redirects to `redirect_uri`.
    pub(crate) fn new(redirect_uri: String) -> Self {
        Self {
            redirect_uri,
            grants: Arc::default(),
        }
    }

    /// Its routes.
    pub(crate) fn router(&self) -> Router {
        Router::new()
            .route("/authorize", get(authorize).post(decide))
            .route("/token", post(token_endpoint))
            .route("/revoke", post(revoke))
            .route("/userinfo", get(userinfo))
            .with_state(self.clone())
    }

    fn grants(&self) -> std::sync::MutexGuard<'_, Grants> {
        self.grants.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many refresh grants it answered.
    pub(crate) fn refreshed(&self) -> usize {
        self.grants().refreshed
    }

    /// How many refresh tokens are live.
    pub(crate) fn live_grants(&self) -> usize {
        self.grants().refresh.len()
    }

    /// The user revokes the app at the provider: every token dies.
    pub(crate) fn revoke_user(&self) {
        let mut g = self.grants();
        g.refresh.clear();
        g.access.clear();
    }
}

#[derive(Deserialize)]
struct AuthorizeParams {
    response_type: String,
    client_id: String,
    redirect_uri: String,
    state: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    code_challenge: String,
    #[serde(default)]
    code_challenge_method: String,
}

async fn authorize(State(s): State<AuthServer>, Query(p): Query<AuthorizeParams>) -> Response {
    if p.client_id != CLIENT_ID || p.redirect_uri != s.redirect_uri || p.response_type != "code" {
        return (StatusCode::BAD_REQUEST, "unknown client or redirect_uri").into_response();
    }
    if p.code_challenge.is_empty() || p.code_challenge_method != "S256" {
        return (StatusCode::BAD_REQUEST, "PKCE (S256) is required").into_response();
    }
    let Ok(id) = token() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    s.grants().requests.insert(
        id.clone(),
        Request {
            state: p.state,
            challenge: p.code_challenge,
            scope: p.scope.clone(),
        },
    );
    page(
        "Fake provider: consent",
        &format!(
            "<p><b>oob demo</b> asks for <code>{scope}</code>.</p>\
             <form method=post action=/authorize><input type=hidden name=request value=\"{id}\">\
             <button name=decision value=approve>Allow</button> \
             <button name=decision value=deny>Deny</button></form>",
            scope = escape(&p.scope),
        ),
    )
    .into_response()
}

#[derive(Deserialize)]
struct Decision {
    decision: String,
    request: String,
}

async fn decide(State(s): State<AuthServer>, Form(d): Form<Decision>) -> Response {
    let Some(req) = s.grants().requests.get(&d.request).cloned() else {
        return (StatusCode::BAD_REQUEST, "unknown authorization request").into_response();
    };
    let mut params = vec![("state", req.state)];
    if d.decision == "approve" {
        let Ok(code) = token() else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        s.grants()
            .codes
            .insert(code.clone(), (req.challenge, req.scope));
        params.push(("code", code));
    } else {
        params.push(("error", "access_denied".into()));
    }
    match reqwest::Url::parse_with_params(&s.redirect_uri, &params) {
        Ok(url) => Redirect::to(url.as_str()).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Whether the request authenticates as the client (HTTP Basic, RFC 6749 2.3.1).
fn client_ok(headers: &HeaderMap) -> bool {
    let expected = format!(
        "Basic {}",
        STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    headers
        .get(header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == expected.as_bytes())
}

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    code_verifier: String,
    #[serde(default)]
    redirect_uri: String,
    #[serde(default)]
    refresh_token: String,
}

/// New tokens for `scope`, as the token endpoint answers them.
fn issue(g: &mut Grants, scope: String) -> Result<Response, StatusCode> {
    let (access, refresh) = (token()?, token()?);
    g.access.insert(access.clone(), Instant::now() + ACCESS_TTL);
    g.refresh.insert(refresh.clone(), scope.clone());
    Ok(Json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ACCESS_TTL.as_secs(),
        "refresh_token": refresh,
        "scope": scope,
    }))
    .into_response())
}

async fn token_endpoint(
    State(s): State<AuthServer>,
    headers: HeaderMap,
    Form(r): Form<TokenRequest>,
) -> Result<Response, StatusCode> {
    if !client_ok(&headers) {
        return Ok(oauth_error(StatusCode::UNAUTHORIZED, "invalid_client"));
    }
    let mut g = s.grants();
    match r.grant_type.as_str() {
        "authorization_code" => {
            // A code is used once: taken out on the first exchange.
            let Some((challenge, scope)) = g.codes.remove(&r.code) else {
                return Ok(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant"));
            };
            let proof = URL_SAFE_NO_PAD.encode(Sha256::digest(r.code_verifier.as_bytes()));
            if proof != challenge || r.redirect_uri != s.redirect_uri {
                return Ok(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant"));
            }
            issue(&mut g, scope)
        }
        "refresh_token" => {
            // Rotation: the old refresh token is used up.
            let Some(scope) = g.refresh.remove(&r.refresh_token) else {
                return Ok(oauth_error(StatusCode::BAD_REQUEST, "invalid_grant"));
            };
            g.refreshed += 1;
            issue(&mut g, scope)
        }
        _ => Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
        )),
    }
}

#[derive(Deserialize)]
struct RevokeRequest {
    token: String,
}

async fn revoke(
    State(s): State<AuthServer>,
    headers: HeaderMap,
    Form(r): Form<RevokeRequest>,
) -> Response {
    if !client_ok(&headers) {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    // One user here: revoking a refresh token ends the grant, access tokens included.
    let mut g = s.grants();
    if g.refresh.remove(&r.token).is_some() {
        g.access.clear();
    }
    g.access.remove(&r.token);
    StatusCode::OK.into_response()
}

async fn userinfo(State(s): State<AuthServer>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let live = token.is_some_and(|t| {
        s.grants()
            .access
            .get(t)
            .is_some_and(|exp| *exp > Instant::now())
    });
    if live {
        Json(json!({ "sub": USER })).into_response()
    } else {
        StatusCode::UNAUTHORIZED.into_response()
    }
}
