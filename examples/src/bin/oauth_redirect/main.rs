//! An OAuth authorization-code consent, offline, on `oob::oauth`: the tool call needs an
//! upstream access token. [`OAuth::access_token`] answers `ConsentRequired` with an open
//! pending; its URL (served by [`OAuth::router`]) checks that the signed-in browser user owns
//! the pending, then redirects to the authorization server with PKCE (S256) and a `state`
//! that names the pending and carries a tag keyed by its PKCE verifier (a callback that
//! names the pending by its id alone is refused). The authorization server (a small one in this process, on
//! another port: the third party, see `provider.rs`) asks for consent and redirects back;
//! the callback checks the owner again, exchanges the code with the PKCE verifier, and
//! completes the pending with the token set stored under the user's namespace. Later calls
//! get the access token refreshed when it expires; after the user revokes the grant at the
//! provider (or the service revokes it), the next call asks again. A `state` naming no
//! pending is refused, a code the provider does not accept is a 400 with a link to start
//! again, a replayed callback is not exchanged again.
//!
//! Run: `cargo run -p oob-examples --bin oauth_redirect`, open the URL it prints and sign in
//! as alice. It serves until Ctrl-C or SIGTERM.
//! Non-interactive: `cargo run -p oob-examples --bin oauth_redirect -- --selftest`.

mod provider;
mod selftest;

use std::process::ExitCode;
use std::time::Duration;

use oob::http::{SessionUser, interaction_headers};
use oob::oauth::{Consent, OAuth, OAuthError, Provider, TokenSet};
use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::vault::MemoryVault;
use oob::{CallbackBase, Manager, Namespace, Outcome};
use oob_examples::{
    BoxError, Mode, OpenStore, bind, client, print_when_done, scratch_dir, spawn_server,
    with_sign_in,
};

use provider::AuthServer;

/// Where consent pendings live: SQLite in a scratch file (durable across restarts). The
/// one-line switch to the in-process store: `type Store = oob::store::MemoryStore<Consent>;`
type Store = oob::store::SqliteStore<Consent>;

/// The token sets. In production: a durable vault under an `EncryptedVault`.
type Flow = OAuth<Store, FromVerifiedSubject, MemoryVault<TokenSet>>;

#[derive(Clone)]
struct App {
    oauth: Flow,
    http: reqwest::Client,
    base: String,
    auth_server: String,
}

impl App {
    fn redirect_uri(&self) -> String {
        format!("{}/oauth/callback", self.base)
    }

    /// The tool's work with a token: who the user is upstream.
    async fn whoami(&self, token: &oob::oauth::AccessToken) -> Result<String, BoxError> {
        let res = self
            .http
            .get(format!("{}/userinfo", self.auth_server))
            .bearer_auth(token.secret())
            .send()
            .await?
            .error_for_status()?;
        let info: serde_json::Value = res.json().await?;
        Ok(info["sub"].as_str().ok_or("no subject")?.to_owned())
    }
}

/// What a tool call got.
enum Called {
    /// The upstream user (the token was there, refreshed if need be).
    Ran(String),
    /// The user must consent at this URL; the task ends with the call's result once they
    /// did (or declined).
    Asked(String, tokio::task::JoinHandle<Result<String, BoxError>>),
}

/// The tool call: the access token, or the consent URL to hand the user and a task that
/// waits for the consent and then runs the tool.
async fn tool_call(app: &App, caller: &VerifiedSubject) -> Result<Called, BoxError> {
    let open = match app.oauth.access_token(caller).await {
        Ok(token) => return Ok(Called::Ran(app.whoami(&token).await?)),
        Err(OAuthError::ConsentRequired(open)) => open,
        Err(e) => return Err(e.into()),
    };
    let (url, id) = (open.callback_url(), open.id());
    let (app, caller) = (app.clone(), caller.clone());
    let wait = tokio::spawn(async move {
        match app
            .oauth
            .manager()
            .wait(id, Duration::from_secs(600))
            .await?
        {
            Outcome::Completed(_) => {
                let token = app.oauth.access_token(&caller).await?;
                app.whoami(&token).await
            }
            Outcome::Declined(_) => Ok("declined".into()),
            other => Err(format!("unexpected outcome {other:?}").into()),
        }
    });
    Ok(Called::Asked(url, wait))
}

async fn run(mode: Mode) -> Result<(), BoxError> {
    // Removed when `run` returns: after the self-test, Ctrl-C or SIGTERM.
    let dir = scratch_dir("oauth-redirect")?;
    let (listener, base) = bind().await?;
    let (as_listener, auth_server) = bind().await?;
    let manager = Manager::builder()
        .store(Store::open_in(dir.path())?)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse(&base)?)
        .build();
    let redirect = format!("{base}/oauth/callback");
    let upstream = Provider::new(
        "upstream",
        provider::CLIENT_ID,
        format!("{auth_server}/authorize"),
        format!("{auth_server}/token"),
        redirect.clone(),
    )?
    .client_secret(provider::CLIENT_SECRET)
    .scopes(["repo:read"])
    .revocation_url(format!("{auth_server}/revoke"))?;
    let oauth = OAuth::new(manager, MemoryVault::new(), upstream)?
        // Tokens live 3 s at the demo provider: refresh 1 s before they expire.
        .refresh_margin(Duration::from_secs(1));
    let app = App {
        oauth,
        http: client()?,
        base: base.clone(),
        auth_server: auth_server.clone(),
    };
    let fake = AuthServer::new(redirect);
    spawn_server(as_listener, fake.router());
    // The consent URL and the callback, for the browser user of the demo sign-in.
    let server = spawn_server(
        listener,
        with_sign_in(
            app.oauth
                .router_for::<(), SessionUser>()
                .layer(interaction_headers()),
        ),
    );
    if mode == Mode::Selftest {
        return selftest::run(&app, &fake).await;
    }
    let alice = VerifiedSubject::new(Namespace::new("alice")?);
    let Called::Asked(url, call) = tool_call(&app, &alice).await? else {
        return Err("a fresh service already had a grant".into());
    };
    println!(
        "open {url}\n(sign in as alice when asked; the demo provider runs on {auth_server}; \
         Ctrl-C or SIGTERM to stop)"
    );
    print_when_done(call, |user| {
        format!("tool call finished: upstream user {user}")
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
