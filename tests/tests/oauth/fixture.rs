//! The fixture: a real provider (`oidc-provider`) on a loopback port, the service's OAuth
//! flow served next to it, and what the user and the service do with them.

use std::time::Duration;

use axum::Router;
use axum::middleware;
use oob::oauth::{Consent, OAuth, OAuthError, Provider, TokenSet};
use oob::provider::FromVerifiedSubject;
use oob::store::MemoryStore;
use oob::vault::{MemoryVault, Vault};
use oob::{CallbackBase, Manager, Pending, state::Open};
use oob_tests::oidc::{self, CLIENT_ID, CLIENT_SECRET, Decision, OidcProvider, location};
use oob_tests::user;
use reqwest::StatusCode;

use super::oauth_support::{Flow, signed_in};

pub(super) struct Fixture {
    pub(super) op: OidcProvider,
    pub(super) base: String,
    pub(super) redirect: String,
    pub(super) oauth: Flow,
    pub(super) app: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub(super) fn flow(
    op: &OidcProvider,
    base: &str,
    redirect: &str,
    vault: MemoryVault<TokenSet>,
    store: MemoryStore<Consent>,
) -> Flow {
    let provider = Provider::new(
        "test",
        CLIENT_ID,
        op.authorization_url(),
        op.token_url(),
        redirect,
    )
    .expect("provider")
    .client_secret(CLIENT_SECRET)
    .scopes(["openid"])
    .revocation_url(op.revocation_url())
    .expect("revocation url");
    let manager = Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse(base).expect("base"))
        .build();
    OAuth::new(manager, vault, provider)
        .expect("oauth")
        .refresh_margin(Duration::from_millis(500))
}

pub(super) async fn fixture(access_ttl: Duration) -> Option<Fixture> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let redirect = format!("{base}/oob/oauth/callback");
    let op = OidcProvider::start(&redirect, access_ttl)?;
    let oauth = flow(
        &op,
        &base,
        &redirect,
        MemoryVault::new(),
        MemoryStore::new(),
    );
    let router: Router = oauth.router().layer(middleware::from_fn(signed_in));
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let app = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    Some(Fixture {
        op,
        base,
        redirect,
        oauth,
        app,
        server,
    })
}

/// The user at the provider, in their own browser: signs in as `login`, then consents (or
/// declines). Returns the callback URL the provider sends the browser back to.
pub(super) async fn at_provider(
    f: &Fixture,
    authorize: &str,
    login: &str,
    what: Decision,
) -> String {
    oidc::at_provider(authorize, &f.redirect, login, what).await
}

/// Opens the pending's URL as `who` (the owner check), follows it to the provider.
pub(super) async fn open_as(f: &Fixture, pending_url: &str, who: &str) -> reqwest::Response {
    f.app
        .get(pending_url)
        .header("x-user", who)
        .send()
        .await
        .expect("pending url")
}

pub(super) async fn callback_as(
    f: &Fixture,
    callback: &str,
    who: Option<&str>,
) -> reqwest::Response {
    let mut req = f.app.get(callback);
    if let Some(who) = who {
        req = req.header("x-user", who);
    }
    req.send().await.expect("callback")
}

pub(super) fn consent_required(
    r: Result<oob::oauth::AccessToken, OAuthError>,
) -> Pending<Consent, Open> {
    match r {
        Err(OAuthError::ConsentRequired(p)) => *p,
        other => panic!("expected ConsentRequired, got {other:?}"),
    }
}

/// The whole consent as alice: access token asked, URL opened, provider, callback.
pub(super) async fn connect(f: &Fixture, who: &str) -> Pending<Consent, Open> {
    let cx = user(who);
    let pending = consent_required(f.oauth.access_token(&cx).await);
    let res = open_as(f, &pending.callback_url(), who).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let authorize = location(&res);
    assert!(
        authorize.contains("code_challenge_method=S256"),
        "{authorize}"
    );
    assert!(
        authorize.contains(&format!("state={}.", pending.id())),
        "{authorize}"
    );
    let callback = at_provider(f, &authorize, who, Decision::Consent).await;
    let res = callback_as(f, &callback, Some(who)).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap_or_default()
    );
    pending
}

pub(super) async fn userinfo_sub(f: &Fixture, access: &str) -> Option<String> {
    let res = f
        .app
        .get(f.op.userinfo_url())
        .bearer_auth(access)
        .send()
        .await
        .expect("userinfo");
    if !res.status().is_success() {
        return None;
    }
    let v: serde_json::Value = res.json().await.expect("json");
    v["sub"].as_str().map(str::to_owned)
}

pub(super) async fn stored(f: &Fixture, who: &str) -> Option<TokenSet> {
    let cx = user(who);
    let t = f.oauth.manager().caller(&cx).expect("caller");
    let key = f.oauth.provider().vault_key();
    f.oauth.vault().get(&t, &key).await.expect("vault")
}

pub(super) fn vault_of(f: &Fixture) -> MemoryVault<TokenSet> {
    f.oauth.vault().clone()
}
