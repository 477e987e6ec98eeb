//! An OAuth authorization-code redirect, offline: the tool call needs an upstream access
//! token. The callback URL of the pending starts the flow: it redirects the browser to the
//! authorization server with a `state` bound to the pending (its id and an HMAC of it under
//! a server key); the authorization server (a small fake one in this process, on another
//! port) asks for consent and redirects back with a code; the service checks the `state`
//! (constant time), checks that the signed-in browser user owns the pending it names (on
//! the way out *and* on the way back: nobody else is sent to the provider with the owner's
//! `state`, and no one else's consent lands in the owner's namespace), exchanges the code,
//! and completes the pending with the token stored under the user's namespace. A mismatched
//! `state` is refused (400); a code the provider does not accept is a 400 with a link to
//! try again; a replay by the owner says "already saved".
//!
//! Run: `cargo run -p oob-examples --bin oauth_redirect`, open the URL it prints and sign in
//! as alice. It serves until Ctrl-C or SIGTERM.
//! Non-interactive: `cargo run -p oob-examples --bin oauth_redirect -- --selftest`.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{FromRef, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use oob::http::{
    BrowserUser, Interaction, InteractionRejection, Interactions, RejectionKind, SessionUser,
    interaction_headers,
};
use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::vault::{MemoryVault, Vault};
use oob::{CallbackBase, Manager, Namespace, OobPayload, Outcome, PendingId, Spec};
use oob_examples::{
    BoxError, Mode, OpenStore, Signer, bind, client, ensure, ensure_interaction_headers, escape,
    page, random_bytes, scratch_dir, sign_in, spawn_server, with_sign_in,
};
use serde::{Deserialize, Serialize};

const CLIENT_ID: &str = "oob-demo";
const CLIENT_SECRET: &str = "demo-secret";

/// An upstream account to connect.
#[derive(Debug, Clone, Serialize, Deserialize, OobPayload)]
#[oob(kind = "oauth", route = "/oob/oauth/{id}", ttl = "10m")]
struct OAuthConnect {
    scope: String,
}

/// Where pendings live: SQLite in a scratch file (durable across restarts). The one-line
/// switch to the in-process store: `type Store = oob::store::MemoryStore<OAuthConnect>;`
type Store = oob::store::SqliteStore<OAuthConnect>;

type Oob = Manager<OAuthConnect, Store, FromVerifiedSubject>;

#[derive(Clone)]
struct App {
    oob: Oob,
    vault: MemoryVault<String>,
    signer: Signer,
    http: reqwest::Client,
    base: String,
    auth_server: String,
}

impl FromRef<App> for Interactions<OAuthConnect> {
    fn from_ref(app: &App) -> Self {
        app.oob.interactions()
    }
}

impl App {
    fn redirect_uri(&self) -> String {
        format!("{}/oauth/callback", self.base)
    }

    fn state_for(&self, id: PendingId) -> String {
        format!("{id}.{}", self.signer.sign("oauth-state", &id.to_string()))
    }

    /// The pending a `state` names, if its MAC verifies.
    fn pending_of(&self, state: &str) -> Option<PendingId> {
        let (id, mac) = state.split_once('.')?;
        self.signer
            .verify("oauth-state", id, mac)
            .then(|| id.parse().ok())
            .flatten()
    }
}

/// The pending's URL: start the flow with a `state` bound to this pending, for its owner
/// only (anyone else never sees the provider's page with the owner's `state`).
async fn start(State(app): State<App>, ix: Interaction<OAuthConnect, SessionUser>) -> Response {
    let url = reqwest::Url::parse_with_params(
        &format!("{}/authorize", app.auth_server),
        &[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", &app.redirect_uri()),
            ("scope", &ix.data().scope),
            ("state", &app.state_for(ix.id())),
        ],
    );
    match url {
        Ok(url) => Redirect::to(url.as_str()).into_response(),
        Err(_) => InteractionRejection::new(RejectionKind::Misconfigured).into_response(),
    }
}

#[derive(Deserialize)]
struct CallbackParams {
    code: Option<String>,
    error: Option<String>,
    state: Option<String>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
}

/// A refusal page with a next step (`retry`: a link that starts the flow again).
fn refused(status: StatusCode, msg: &str, retry: Option<&str>) -> Response {
    let next = match retry {
        Some(url) => format!("<p><a id=retry href=\"{}\">Try again</a></p>", escape(url)),
        None => "<p>Go back to the assistant and ask it to connect again.</p>".into(),
    };
    (
        status,
        page("Not connected", &format!("<p>{}</p>{next}", escape(msg))),
    )
        .into_response()
}

/// The redirect back from the authorization server: the owner check again (the `state`
/// came back through the browser), before anything about the pending is told.
async fn callback(
    State(app): State<App>,
    parts: Parts,
    Query(p): Query<CallbackParams>,
) -> Result<Response, InteractionRejection> {
    let Some(id) = p.state.as_deref().and_then(|s| app.pending_of(s)) else {
        return Ok(refused(
            StatusCode::BAD_REQUEST,
            "This sign-in response does not match a request.",
            None,
        ));
    };
    let user = SessionUser::identify(&parts)
        .await?
        .ok_or(RejectionKind::NoIdentity)?;
    if app.oob.get(id).await?.namespace() != user.namespace() {
        return Err(RejectionKind::WrongUser.into());
    }
    // The owner's: open, or "already saved" (a replay, 200), or cancelled/expired (410).
    let open = app.oob.open(id).await?;
    if p.error.is_some() {
        app.oob.decline(open).await?;
        return Ok(page(
            "Not connected",
            "<p>You declined. Nothing was connected.</p>",
        )
        .into_response());
    }
    let Some(code) = p.code else {
        return Ok(refused(
            StatusCode::BAD_REQUEST,
            "The sign-in response has no code.",
            Some(&app.oob.callback_url(id)),
        ));
    };
    let redirect_uri = app.redirect_uri();
    let exchanged = app
        .http
        .post(format!("{}/token", app.auth_server))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
        ])
        .send()
        .await;
    // The pending stays open on every failure: the user can try again.
    let retry = app.oob.callback_url(id);
    let token = match exchanged {
        Ok(res) if res.status().is_success() => match res.json::<TokenResponse>().await {
            Ok(token) => token,
            Err(_) => {
                return Ok(refused(
                    StatusCode::BAD_GATEWAY,
                    "The provider answered something we do not understand.",
                    Some(&retry),
                ));
            }
        },
        // The provider refused this code (used, expired, not its own): the user's sign-in
        // response is bad, not our gateway.
        Ok(res) if res.status().is_client_error() => {
            return Ok(refused(
                StatusCode::BAD_REQUEST,
                "The provider did not accept this sign-in (the code may be used or expired).",
                Some(&retry),
            ));
        }
        _ => {
            return Ok(refused(
                StatusCode::BAD_GATEWAY,
                "The provider could not be reached.",
                Some(&retry),
            ));
        }
    };
    // The persist step is `'static`: it owns a handle on the vault.
    let writer = app.vault.clone();
    app.oob
        .complete_with(open, async move |t| {
            writer.put(&t, "upstream", token.access_token).await
        })
        .await?;
    Ok(page(
        "Connected",
        "<p id=saved>Connected. You can close this tab and go back to the assistant.</p>",
    )
    .into_response())
}

/// A failure of the fake authorization server: a bare 500.
struct Oops;

impl<E: Into<BoxError>> From<E> for Oops {
    fn from(_: E) -> Self {
        Oops
    }
}

impl IntoResponse for Oops {
    fn into_response(self) -> Response {
        StatusCode::INTERNAL_SERVER_ERROR.into_response()
    }
}

/// The fake authorization server: issued codes (single use) and tokens.
#[derive(Clone, Default)]
struct AuthServer {
    redirect_uri: String,
    codes: Arc<Mutex<HashMap<String, String>>>,
    tokens: Arc<Mutex<HashMap<String, String>>>,
}

#[derive(Deserialize)]
struct AuthorizeParams {
    client_id: String,
    redirect_uri: String,
    state: String,
    scope: String,
}

async fn authorize(State(s): State<AuthServer>, Query(p): Query<AuthorizeParams>) -> Response {
    if p.client_id != CLIENT_ID || p.redirect_uri != s.redirect_uri {
        return (StatusCode::BAD_REQUEST, "unknown client or redirect_uri").into_response();
    }
    page(
        "Fake provider: consent",
        &format!(
            "<p><b>oob demo</b> asks for <code>{scope}</code>.</p>\
             <form method=post action=/authorize><input type=hidden name=state value=\"{state}\">\
             <button name=decision value=approve>Allow</button> \
             <button name=decision value=deny>Deny</button></form>",
            scope = escape(&p.scope),
            state = escape(&p.state),
        ),
    )
    .into_response()
}

#[derive(Deserialize)]
struct Consent {
    decision: String,
    state: String,
}

async fn consent(State(s): State<AuthServer>, Form(c): Form<Consent>) -> Result<Redirect, Oops> {
    let mut params = vec![("state", c.state)];
    if c.decision == "approve" {
        let code = hex::encode(random_bytes::<16>()?);
        s.codes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(code.clone(), "upstream-user-42".into());
        params.push(("code", code));
    } else {
        params.push(("error", "access_denied".into()));
    }
    Ok(Redirect::to(
        reqwest::Url::parse_with_params(&s.redirect_uri, &params)?.as_str(),
    ))
}

#[derive(Deserialize)]
struct TokenRequest {
    grant_type: String,
    code: String,
    redirect_uri: String,
    client_id: String,
    client_secret: String,
}

#[derive(Serialize)]
struct TokenJson {
    access_token: String,
    token_type: &'static str,
}

async fn token(State(s): State<AuthServer>, Form(r): Form<TokenRequest>) -> Result<Response, Oops> {
    let valid_client = r.client_id == CLIENT_ID && r.client_secret == CLIENT_SECRET;
    // A code is used once: taken out on the first exchange.
    let user = s
        .codes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&r.code);
    match user {
        Some(user)
            if valid_client
                && r.grant_type == "authorization_code"
                && r.redirect_uri == s.redirect_uri =>
        {
            let access_token = hex::encode(random_bytes::<16>()?);
            s.tokens
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(access_token.clone(), user);
            Ok(Json(TokenJson {
                access_token,
                token_type: "Bearer",
            })
            .into_response())
        }
        _ => Ok((StatusCode::BAD_REQUEST, "invalid_grant").into_response()),
    }
}

async fn userinfo(State(s): State<AuthServer>, headers: HeaderMap) -> Response {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token.and_then(|t| {
        s.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(t)
            .cloned()
    }) {
        Some(user) => user.into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

/// The tool call: asks to connect, waits, then calls the upstream API with the token.
async fn tool_call(
    app: &App,
    caller: VerifiedSubject,
) -> Result<(String, tokio::task::JoinHandle<Result<String, BoxError>>), BoxError> {
    let pending = app
        .oob
        .create(
            &caller,
            Spec::new(OAuthConnect {
                scope: "repo:read".into(),
            }),
        )
        .await?;
    let (app, id) = (app.clone(), pending.id());
    let wait = tokio::spawn(async move {
        match app.oob.wait(id, Duration::from_secs(600)).await? {
            Outcome::Completed(_) => {
                // The tool call reads with its own caller's capability.
                let token = app
                    .vault
                    .get(&app.oob.caller(&caller)?, "upstream")
                    .await?
                    .ok_or("no token")?;
                let res = app
                    .http
                    .get(format!("{}/userinfo", app.auth_server))
                    .bearer_auth(token)
                    .send()
                    .await?;
                ensure(res.status() == 200, "the upstream accepts the token")?;
                Ok(res.text().await?)
            }
            Outcome::Declined(_) => Ok("declined".into()),
            other => Err(format!("unexpected outcome {other:?}").into()),
        }
    });
    Ok((pending.callback_url(), wait))
}

/// The browser's part up to the redirect back: start, consent; the callback URL.
async fn browse_to_callback(
    c: &reqwest::Client,
    cookie: &str,
    url: &str,
    decision: &str,
) -> Result<String, BoxError> {
    let res = c.get(url).header("cookie", cookie).send().await?;
    ensure(
        res.status() == 303,
        format!("start redirects: {}", res.status()),
    )?;
    ensure_interaction_headers(&res)?;
    let to_as = res.headers()["location"].to_str()?.to_owned();
    let state = reqwest::Url::parse(&to_as)?
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .ok_or("no state")?;
    let res = c.get(&to_as).send().await?;
    ensure(res.status() == 200, "consent page")?;
    let as_base = to_as.split("/authorize").next().unwrap_or_default();
    let res = c
        .post(format!("{as_base}/authorize"))
        .form(&[("decision", decision), ("state", &state)])
        .send()
        .await?;
    ensure(res.status() == 303, "consent redirects back")?;
    Ok(res.headers()["location"].to_str()?.to_owned())
}

async fn selftest(app: &App) -> Result<(), BoxError> {
    let c = client()?;
    let alice = VerifiedSubject::new(Namespace::new("alice")?);
    let alice_cookie = sign_in(&c, &app.base, "alice").await?;
    let mallory_cookie = sign_in(&c, &app.base, "mallory").await?;

    let (url, call) = tool_call(app, alice.clone()).await?;
    println!("open {url}");
    // Nobody else is sent to the provider with alice's `state`.
    for cookie in ["", mallory_cookie.as_str()] {
        let res = c.get(&url).header("cookie", cookie).send().await?;
        ensure(res.status() == 403, "not the owner: refused, no redirect")?;
        ensure(res.headers().get("location").is_none(), "no redirect")?;
    }
    // A bad code from the provider: 400 with a link to try again; the pending stays open.
    let back = browse_to_callback(&c, &alice_cookie, &url, "approve").await?;
    let parsed = reqwest::Url::parse(&back)?;
    let state_param = parsed
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .ok_or("no state")?;
    let bad_code = reqwest::Url::parse_with_params(
        &app.redirect_uri(),
        &[("code", "not-a-code"), ("state", &state_param)],
    )?;
    let res = c
        .get(bad_code.as_str())
        .header("cookie", &alice_cookie)
        .send()
        .await?;
    ensure(res.status() == 400, format!("bad code: {}", res.status()))?;
    ensure(res.text().await?.contains("id=retry"), "a retry link")?;
    // Alice's code in mallory's browser: refused, nothing stored, alice's pending intact.
    let res = c
        .get(&back)
        .header("cookie", &mallory_cookie)
        .send()
        .await?;
    ensure(
        res.status() == 403,
        "the owner's callback in another session",
    )?;
    let back = browse_to_callback(&c, &alice_cookie, &url, "approve").await?;
    ensure(
        back.starts_with(&app.redirect_uri()),
        "back to our callback",
    )?;

    // Mismatched states: tampered, forged for another id, missing.
    let parsed = reqwest::Url::parse(&back)?;
    let code = parsed
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .ok_or("no code")?;
    let state = parsed
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .ok_or("no state")?;
    let mut tampered = state.clone();
    let last = if tampered.ends_with('0') { '1' } else { '0' };
    tampered.pop();
    tampered.push(last);
    let forged = format!(
        "{}.{}",
        PendingId::random(),
        state.split_once('.').map_or("", |(_, m)| m)
    );
    for bad in [tampered.as_str(), forged.as_str(), "", "garbage"] {
        let res = c
            .get(format!("{}?code={code}&state={bad}", app.redirect_uri()))
            .header("cookie", &alice_cookie)
            .send()
            .await?;
        ensure(
            res.status() == 400,
            format!("mismatched state {bad:?}: {}", res.status()),
        )?;
        ensure_interaction_headers(&res)?;
    }
    let res = c
        .get(format!("{}?code={code}", app.redirect_uri()))
        .send()
        .await?;
    ensure(res.status() == 400, "missing state")?;

    let res = c.get(&back).header("cookie", &alice_cookie).send().await?;
    ensure(res.status() == 200, format!("callback: {}", res.status()))?;
    ensure_interaction_headers(&res)?;
    ensure(
        call.await?? == "upstream-user-42",
        "the tool call used the token upstream",
    )?;
    let res = c.get(&back).header("cookie", &alice_cookie).send().await?;
    ensure(
        res.status() == 200,
        format!("replayed state: {}", res.status()),
    )?;
    ensure(
        res.text().await? == RejectionKind::Completed.page(),
        "the owner's replay: already saved",
    )?;
    let res = c
        .get(&back)
        .header("cookie", &mallory_cookie)
        .send()
        .await?;
    ensure(res.status() == 403, "another user's replay: refused")?;
    println!(
        "selftest: owner only; bad code 400 with retry; mismatched states 400; replay: already saved"
    );

    let (url, call) = tool_call(app, alice).await?;
    let back = browse_to_callback(&c, &alice_cookie, &url, "deny").await?;
    let res = c.get(&back).header("cookie", &alice_cookie).send().await?;
    ensure(res.status() == 200, "denied callback")?;
    ensure(call.await?? == "declined", "the tool call saw the decline")?;
    println!("selftest: declined at the provider; the tool call saw it");
    Ok(())
}

async fn run(mode: Mode) -> Result<(), BoxError> {
    // Removed when `run` returns: after the self-test, Ctrl-C or SIGTERM.
    let dir = scratch_dir("oauth-redirect")?;
    let (listener, base) = bind().await?;
    let (as_listener, auth_server) = bind().await?;
    let oob: Oob = Manager::builder()
        .store(Store::open_in(dir.path())?)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse(&base)?)
        .build();
    let app = App {
        oob,
        vault: MemoryVault::new(),
        signer: Signer::random()?,
        http: client()?,
        base: base.clone(),
        auth_server: auth_server.clone(),
    };
    let fake = AuthServer {
        redirect_uri: app.redirect_uri(),
        ..AuthServer::default()
    };
    spawn_server(
        as_listener,
        Router::new()
            .route("/authorize", get(authorize).post(consent))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .with_state(fake),
    );
    let server = spawn_server(
        listener,
        with_sign_in(
            Router::new()
                .route(OAuthConnect::ROUTE, get(start))
                .route("/oauth/callback", get(callback))
                .layer(interaction_headers())
                .with_state(app.clone()),
        ),
    );
    if mode == Mode::Selftest {
        return selftest(&app).await;
    }
    let (url, call) = tool_call(&app, VerifiedSubject::new(Namespace::new("alice")?)).await?;
    println!(
        "open {url}\n(sign in as alice when asked; the fake provider runs on {auth_server}; \
         Ctrl-C or SIGTERM to stop)"
    );
    tokio::spawn(async move {
        match call.await {
            Ok(Ok(user)) => println!("tool call finished: upstream user {user}"),
            Ok(Err(e)) => println!("tool call failed: {e}"),
            Err(e) => println!("tool call task failed: {e}"),
        }
    });
    server.await?;
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let Some(mode) = oob_examples::mode("oauth_redirect") else {
        return ExitCode::from(2);
    };
    oob_examples::exit("oauth_redirect", run(mode).await)
}
