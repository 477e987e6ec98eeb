//! What a provider answers cannot break the service or leak through it:
//! - an `expires_in` too large for a clock (`u64::MAX` seconds) means the token never
//!   expires. Before, the refresh panicked (the rotated refresh token lost, the user's
//!   every later call stuck behind the lease and panicking again) and the consent callback
//!   failed after the code was used up;
//! - of an error response only the `error` code is kept: a token or revocation endpoint
//!   that echoes the request (the refresh token) in its description, its URI or its body
//!   leaks nothing into errors. Before, the text was kept whole and logged.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use oob::oauth::{Consent, EndpointError, OAuth, OAuthError, Provider, TokenSet};
use oob::provider::FromVerifiedSubject;
use oob::store::MemoryStore;
use oob::vault::{MemoryVault, Vault};
use oob::{CallbackBase, Manager};
use oob_tests::user;

mod oauth_support;
use oauth_support::{serve, signed_in, state_of};

type Flow = OAuth<MemoryStore<Consent>, FromVerifiedSubject, MemoryVault<TokenSet>>;

const SECRET: &str = "rt-SECRET-1";

/// What the fake provider's token endpoint answers a refresh.
#[derive(Clone, Copy)]
enum Refresh {
    /// New tokens that expire in `u64::MAX` seconds.
    Forever,
    /// A 400 whose description and URI echo the refresh token.
    Echo,
    /// A 400 whose `error` code is the refresh token itself (in the codes' alphabet: before,
    /// any such code was kept and logged).
    EchoInTheCode,
}

/// A provider: a code is answered with `at-1`, refresh token [`SECRET`] and `expires_in`
/// `code_expires_in`; a refresh as `refresh` says (counted). Its revocation endpoint
/// answers 400 with the form it was sent, as JSON and as text.
struct Op {
    base: String,
    refreshes: Arc<AtomicUsize>,
    _task: tokio::task::JoinHandle<()>,
}

async fn provider(code_expires_in: u64, refresh: Refresh) -> Op {
    let refreshes = Arc::new(AtomicUsize::new(0));
    let counted = refreshes.clone();
    let json = |status: StatusCode, body: String| {
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    };
    let router = Router::new()
        .route(
            "/token",
            post(move |body: String| {
                let counted = counted.clone();
                async move {
                    if body.contains("grant_type=authorization_code") {
                        return json(
                            StatusCode::OK,
                            format!(
                                r#"{{"access_token":"at-1","refresh_token":"{SECRET}","token_type":"bearer","expires_in":{code_expires_in}}}"#
                            ),
                        );
                    }
                    counted.fetch_add(1, Ordering::SeqCst);
                    match refresh {
                        Refresh::Forever => json(
                            StatusCode::OK,
                            format!(
                                r#"{{"access_token":"at-2","refresh_token":"rt-2","token_type":"bearer","expires_in":{}}}"#,
                                u64::MAX
                            ),
                        ),
                        Refresh::Echo => json(
                            StatusCode::BAD_REQUEST,
                            format!(
                                r#"{{"error":"invalid_request","error_description":"{body}","error_uri":"https://op.example/{SECRET}"}}"#
                            ),
                        ),
                        Refresh::EchoInTheCode => json(
                            StatusCode::BAD_REQUEST,
                            format!(r#"{{"error":"{SECRET}"}}"#),
                        ),
                    }
                }
            }),
        )
        .route(
            "/revoke",
            post(move |body: String| async move {
                if body.contains("json") {
                    json(
                        StatusCode::BAD_REQUEST,
                        format!(r#"{{"error":"invalid_request","error_description":"{body}"}}"#),
                    )
                } else {
                    (StatusCode::BAD_REQUEST, body).into_response()
                }
            }),
        );
    let (base, task) = serve(router).await;
    Op {
        base,
        refreshes,
        _task: task,
    }
}

/// A flow on `op`, its callback served on a port of its own; the flow and its callback URL.
async fn flow(op: &Op) -> (Flow, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let redirect = format!("{base}/oob/oauth/callback");
    let provider = Provider::new(
        "fake",
        "client",
        format!("{}/auth", op.base),
        format!("{}/token", op.base),
        redirect.as_str(),
    )
    .expect("provider")
    .client_secret("secret")
    .revocation_url(format!("{}/revoke", op.base))
    .expect("revocation url");
    let manager = Manager::builder()
        .store(MemoryStore::new())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse(&base).expect("base"))
        .build();
    let flow = OAuth::new(manager, MemoryVault::new(), provider).expect("oauth");
    let router: Router = flow.router().layer(axum::middleware::from_fn(signed_in));
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (flow, redirect)
}

/// Alice consents through `flow`: the provider's callback comes back with a code.
async fn consent(flow: &Flow, redirect: &str) -> StatusCode {
    let pending = match flow.access_token(&user("alice")).await {
        Err(OAuthError::ConsentRequired(p)) => p,
        other => panic!("expected a consent, got {other:?}"),
    };
    reqwest::Client::new()
        .get(format!(
            "{redirect}?code=c1&state={}",
            state_of(flow, &pending)
        ))
        .header("x-user", "alice")
        .send()
        .await
        .expect("callback")
        .status()
}

/// Everything an error shows: its `Display`, `Debug` and every source's.
fn shown(e: &(dyn std::error::Error + 'static)) -> String {
    let mut all = format!("{e} {e:?}");
    let mut source = e.source();
    while let Some(s) = source {
        all.push_str(&format!(" | {s} {s:?}"));
        source = s.source();
    }
    all
}

#[tokio::test]
async fn a_refresh_answered_with_an_endless_expiry_never_expires() {
    let op = provider(1, Refresh::Forever).await;
    let (flow, redirect) = flow(&op).await;
    assert_eq!(consent(&flow, &redirect).await, StatusCode::OK);
    // Expires within the refresh margin: refreshed, and the answer does not panic.
    let alice = user("alice");
    let token = tokio::spawn({
        let flow = flow.clone();
        async move { flow.access_token(&user("alice")).await }
    })
    .await
    .expect("no panic")
    .expect("the refreshed token");
    assert_eq!(token.secret(), "at-2");
    let t = flow.manager().caller(&alice).expect("caller");
    let set = flow
        .vault()
        .get(&t, &flow.provider().vault_key())
        .await
        .expect("read")
        .expect("grant");
    assert_eq!(
        set.refresh_token(),
        Some("rt-2"),
        "the rotated token is kept"
    );
    let century = std::time::SystemTime::now() + Duration::from_secs(100 * 365 * 86_400);
    assert!(
        set.expires_at().is_none_or(|at| at > century),
        "past what a clock holds: never"
    );
    assert_eq!(
        flow.access_token(&alice).await.expect("token").secret(),
        "at-2"
    );
    assert_eq!(
        op.refreshes.load(Ordering::SeqCst),
        1,
        "not refreshed again"
    );
}

#[tokio::test]
async fn a_consent_answered_with_an_endless_expiry_is_stored() {
    let op = provider(u64::MAX, Refresh::Forever).await;
    let (flow, redirect) = flow(&op).await;
    assert_eq!(consent(&flow, &redirect).await, StatusCode::OK);
    let token = flow.access_token(&user("alice")).await.expect("the grant");
    assert_eq!(token.secret(), "at-1");
    assert_eq!(op.refreshes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn of_a_refused_refresh_only_the_error_code_is_kept() {
    for (refresh, code) in [
        (Refresh::Echo, "invalid_request"),
        (Refresh::EchoInTheCode, "unrecognised"),
    ] {
        // (Expired at once: a refresh of a token still valid that fails serves that token.)
        let op = provider(0, refresh).await;
        let (flow, redirect) = flow(&op).await;
        assert_eq!(consent(&flow, &redirect).await, StatusCode::OK);
        let e = flow
            .access_token(&user("alice"))
            .await
            .expect_err("refused");
        let all = shown(&e);
        assert!(matches!(e, OAuthError::Provider(_)), "{all}");
        assert!(!all.contains("SECRET"), "the refresh token leaked: {all}");
        assert!(all.contains(code), "{all}");
        let refused = std::error::Error::source(&e)
            .and_then(|s| s.downcast_ref::<EndpointError>())
            .expect("an EndpointError");
        assert!(
            matches!(refused, EndpointError::Refused(c) if c == code),
            "{all}"
        );
    }
}

#[tokio::test]
async fn of_a_refused_revocation_only_the_error_code_is_kept() {
    let op = provider(3_600, Refresh::Forever).await;
    let (flow, redirect) = flow(&op).await;
    assert_eq!(consent(&flow, &redirect).await, StatusCode::OK);
    // The endpoint echoes the form (the refresh token in it) as text.
    let e = flow.revoke(&user("alice")).await.expect_err("refused");
    let all = shown(&e);
    assert!(!all.contains("SECRET"), "the refresh token leaked: {all}");
    assert!(all.contains("400"), "{all}");
    assert!(all.contains("unrecognised"), "{all}");
}

/// A redirect path the callback router cannot serve is refused when the provider is made,
/// not a panic when the router is built.
#[test]
fn a_redirect_path_with_a_capture_segment_is_refused() {
    for redirect in ["https://a.example/cb/:user", "https://a.example/*rest"] {
        let p = Provider::new(
            "a",
            "id",
            "https://op.example/auth",
            "https://op.example/token",
            redirect,
        );
        assert!(
            matches!(p, Err(oob::oauth::ProviderConfigError::RedirectPath)),
            "{redirect}"
        );
    }
    assert!(
        Provider::new(
            "a",
            "id",
            "https://op.example/auth",
            "https://op.example/token",
            "https://a.example/cb/a:b"
        )
        .is_ok()
    );
}

/// A refresh margin and lease too long for a clock saturate: every call refreshes (the
/// margin covers any expiry), none panics.
#[tokio::test]
async fn settings_too_long_for_a_clock_saturate() {
    let op = provider(3_600, Refresh::Forever).await;
    let (flow, redirect) = flow(&op).await;
    let flow = flow
        .refresh_margin(Duration::MAX)
        .refresh_lease(Duration::MAX);
    assert_eq!(consent(&flow, &redirect).await, StatusCode::OK);
    let token = tokio::spawn({
        let flow = flow.clone();
        async move { flow.access_token(&user("alice")).await }
    })
    .await
    .expect("no panic")
    .expect("the refreshed token");
    assert_eq!(token.secret(), "at-2");
    assert_eq!(op.refreshes.load(Ordering::SeqCst), 1);
}

/// A zero refresh lease is a second (`MIN_REFRESH_LEASE`): the refresh has time to be
/// answered (with no lease at all, every refresh was abandoned before its answer).
#[tokio::test]
async fn a_zero_refresh_lease_still_refreshes() {
    let op = provider(0, Refresh::Forever).await;
    let (flow, redirect) = flow(&op).await;
    let flow = flow.refresh_lease(Duration::ZERO);
    assert_eq!(consent(&flow, &redirect).await, StatusCode::OK);
    let token = flow
        .access_token(&user("alice"))
        .await
        .expect("the refreshed token");
    assert_eq!(token.secret(), "at-2");
}
