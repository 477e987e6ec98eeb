//! Shared pieces of the OAuth tests: the service's sign-in as the tests drive it, and a fake
//! provider (a token endpoint the test writes) with the service's callback served on
//! loopback.
#![allow(dead_code, unreachable_pub)]

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use oob::oauth::{Consent, OAuth, OAuthError, Provider, TokenSet};
use oob::provider::FromVerifiedSubject;
use oob::state::Open;
use oob::store::MemoryStore;
use oob::vault::{MemoryVault, Vault};
use oob::{CallbackBase, Manager, Pending};
use oob_tests::user;
use reqwest::StatusCode;

/// The flow the OAuth tests run.
pub type Flow = OAuth<MemoryStore<Consent>, FromVerifiedSubject, MemoryVault<TokenSet>>;

/// The service's web sign-in, as tests drive it: the `x-user` header names the signed-in
/// user (a real service reads its session here).
pub async fn signed_in(mut req: Request, next: Next) -> Response {
    let who = req
        .headers()
        .get("x-user")
        .and_then(|v| v.to_str().ok())
        .map(user);
    if let Some(who) = who {
        req.extensions_mut().insert(who);
    }
    next.run(req).await
}

/// Serves `router` on a free loopback port; its base URL and its task.
pub async fn serve(router: Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (base, task)
}

/// A flow for `vault` against a provider served at `base` (its `/token`, and its `/revoke`
/// when `revocation`; without one, a revoke only deletes), for a manager of its own on a
/// memory store. No callback is served: for tests that store grants themselves.
pub fn flow_served_at<V: Vault<TokenSet> + Clone>(
    base: &str,
    vault: V,
    revocation: bool,
) -> OAuth<MemoryStore<Consent>, FromVerifiedSubject, V> {
    let mut provider = Provider::new(
        "fake",
        "client",
        format!("{base}/auth"),
        format!("{base}/token"),
        "http://127.0.0.1:1/oob/oauth/callback",
    )
    .expect("provider");
    if revocation {
        provider = provider
            .client_secret("secret")
            .revocation_url(format!("{base}/revoke"))
            .expect("revocation");
    }
    let manager = Manager::builder()
        .store(MemoryStore::new())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("http://127.0.0.1:1").expect("base"))
        .build();
    OAuth::new(manager, vault, provider).expect("flow")
}

/// A fake provider: `token` serves its `/token`; the service's callback runs on a port of
/// its own, served by the first flow's router once [`FakeProvider::serve_callback`] is called.
pub struct FakeProvider {
    op_base: String,
    /// The service's base URL and its callback URL.
    pub base: String,
    pub redirect: String,
    listener: Option<tokio::net::TcpListener>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl FakeProvider {
    /// Starts the token endpoint and reserves the service's port.
    pub async fn start(token: Router) -> Self {
        let (op_base, op_task) = serve(token).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let redirect = format!("{base}/oob/oauth/callback");
        Self {
            op_base,
            base,
            redirect,
            listener: Some(listener),
            tasks: vec![op_task],
        }
    }

    /// A flow (a replica of the service) on `vault`, with a consent manager of its own.
    pub fn flow(&self, vault: MemoryVault<TokenSet>) -> Flow {
        self.flow_on("fake", MemoryStore::new(), vault, Duration::ZERO)
    }

    /// A flow for provider `name` on this fake provider's endpoints, with a consent manager
    /// on `store` (several flows may share one) and this decline cooldown.
    pub fn flow_on(
        &self,
        name: &str,
        store: MemoryStore<Consent>,
        vault: MemoryVault<TokenSet>,
        cooldown: Duration,
    ) -> Flow {
        self.flow_with(name, store, vault, cooldown)
    }

    /// [`flow_on`](Self::flow_on) on any vault.
    pub fn flow_with<V: Vault<TokenSet> + Clone>(
        &self,
        name: &str,
        store: MemoryStore<Consent>,
        vault: V,
        cooldown: Duration,
    ) -> OAuth<MemoryStore<Consent>, FromVerifiedSubject, V> {
        self.flow_at(name, store, vault, cooldown, &self.redirect)
    }

    /// [`flow_with`](Self::flow_with), with its own redirect URL.
    pub fn flow_at<S: oob::store::Store<Consent>, V: Vault<TokenSet> + Clone>(
        &self,
        name: &str,
        store: S,
        vault: V,
        cooldown: Duration,
        redirect: &str,
    ) -> OAuth<S, FromVerifiedSubject, V> {
        let provider = Provider::new(
            name,
            "client",
            format!("{}/auth", self.op_base),
            format!("{}/token", self.op_base),
            redirect,
        )
        .expect("provider")
        .client_secret("secret");
        let manager = Manager::builder()
            .store(store)
            .provider(FromVerifiedSubject)
            .decline_cooldown(cooldown)
            .callback_base(CallbackBase::parse(&self.base).expect("base"))
            .build();
        OAuth::new(manager, vault, provider)
            .expect("oauth")
            .refresh_margin(Duration::from_secs(30))
    }

    /// Serves `flow`'s callback pages on the service's port.
    pub fn serve_callback<V: Vault<TokenSet> + Clone>(
        &mut self,
        flow: &OAuth<MemoryStore<Consent>, FromVerifiedSubject, V>,
    ) {
        let listener = self.listener.take().expect("the callback is served once");
        let router: Router = flow.router().layer(middleware::from_fn(signed_in));
        self.tasks.push(tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        }));
    }

    /// `who` consents through `flow`: the consent pending it is asked for, then the
    /// provider's callback with code `c1`.
    pub async fn consent<V: Vault<TokenSet> + Clone>(
        &self,
        flow: &OAuth<MemoryStore<Consent>, FromVerifiedSubject, V>,
        who: &str,
    ) {
        let pending = match flow.access_token(&user(who)).await {
            Err(OAuthError::ConsentRequired(p)) => p,
            other => panic!("expected a consent, got {other:?}"),
        };
        let res = reqwest::Client::new()
            .get(format!(
                "{}?code=c1&state={}",
                self.redirect,
                state_of(flow, &pending)
            ))
            .header("x-user", who)
            .send()
            .await
            .expect("callback");
        assert_eq!(res.status(), StatusCode::OK);
    }
}

/// The `state` the service sends the provider for `pending` (what a real provider brings
/// back to the callback), read from its authorization URL.
pub fn state_of<V: Vault<TokenSet> + Clone>(
    flow: &OAuth<MemoryStore<Consent>, FromVerifiedSubject, V>,
    pending: &Pending<Consent, Open>,
) -> String {
    let url = reqwest::Url::parse(&flow.authorization_url(pending)).expect("authorization URL");
    url.query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("a state")
}

/// A token endpoint that answers every code with the token `tok-<code>` and checks no PKCE
/// verifier (as many real ones do not, for a code issued without a challenge).
pub fn echo_token_endpoint() -> Router {
    Router::new().route(
        "/token",
        axum::routing::post(|body: String| async move {
            let code = body
                .split('&')
                .find_map(|kv| kv.strip_prefix("code="))
                .unwrap_or("")
                .to_owned();
            let json = format!(
                r#"{{"access_token":"tok-{code}","token_type":"bearer","expires_in":3600}}"#
            );
            axum::response::IntoResponse::into_response((
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                json,
            ))
        }),
    )
}
