//! A refresh across replicas never outlives its lease. Two replicas share one vault; the
//! first takes the refresh lease, and the provider holds its request past the lease and then
//! refuses it (the refresh token was already rotated: what a provider answers a reused one).
//! The first replica gives up before its lease ends, so the second takes over, refreshes and
//! stores the rotated tokens, and the first's late answer changes nothing. (Before, the
//! first waited for the answer, and its `invalid_grant` deleted the grant the second had
//! just stored: the user's new refresh token was lost.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use oob::oauth::{Consent, EndpointError, OAuth, OAuthError, Provider, TokenSet};
use oob::provider::FromVerifiedSubject;
use oob::store::MemoryStore;
use oob::vault::{MemoryVault, Vault};
use oob::{CallbackBase, Manager};
use oob_tests::user;
use reqwest::header;

type Flow = OAuth<MemoryStore<Consent>, FromVerifiedSubject, MemoryVault<TokenSet>>;

async fn signed_in(mut req: Request, next: Next) -> Response {
    if let Some(who) = req.headers().get("x-user").and_then(|v| v.to_str().ok()) {
        let who = user(who);
        req.extensions_mut().insert(who);
    }
    next.run(req).await
}

fn json(body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_held_past_its_lease_is_abandoned_and_loses_nothing() {
    // The fake provider: the code gives A1/R1 (expiring at once); the first refresh is held
    // 3 s and refused; the next one gives A2/R2.
    let refreshes = Arc::new(AtomicUsize::new(0));
    let seen = refreshes.clone();
    let token = Router::new().route(
        "/token",
        post(move |body: String| {
            let seen = seen.clone();
            async move {
                if body.contains("grant_type=authorization_code") {
                    return json(
                        r#"{"access_token":"A1","token_type":"bearer","expires_in":1,"refresh_token":"R1"}"#,
                    );
                }
                if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    let mut refused = json(r#"{"error":"invalid_grant"}"#);
                    *refused.status_mut() = StatusCode::BAD_REQUEST;
                    return refused;
                }
                json(
                    r#"{"access_token":"A2","token_type":"bearer","expires_in":3600,"refresh_token":"R2"}"#,
                )
            }
        }),
    );
    let op = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let op_base = format!("http://{}", op.local_addr().expect("addr"));
    let op_task = tokio::spawn(async move {
        let _ = axum::serve(op, token).await;
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let redirect = format!("{base}/oob/oauth/callback");
    let vault = MemoryVault::new();
    let replica = || -> Flow {
        let provider = Provider::new(
            "fake",
            "client",
            format!("{op_base}/auth"),
            format!("{op_base}/token"),
            &redirect,
        )
        .expect("provider")
        .client_secret("secret");
        let manager = Manager::builder()
            .store(MemoryStore::new())
            .provider(FromVerifiedSubject)
            .callback_base(CallbackBase::parse(&base).expect("base"))
            .build();
        OAuth::new(manager, vault.clone(), provider)
            .expect("oauth")
            .refresh_lease(Duration::from_secs(2))
    };
    let (a, b) = (replica(), replica());
    let router: Router = a.router().layer(middleware::from_fn(signed_in));
    let app_task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });

    // Alice consents through replica A.
    let alice = user("alice");
    let pending = match a.access_token(&alice).await {
        Err(OAuthError::ConsentRequired(p)) => p,
        other => panic!("expected a consent, got {other:?}"),
    };
    let res = reqwest::Client::new()
        .get(format!("{redirect}?code=c1&state={}", pending.id()))
        .header("x-user", "alice")
        .send()
        .await
        .expect("callback");
    assert_eq!(res.status(), reqwest::StatusCode::OK);

    // A1 expires within the refresh margin: A refreshes first, B a moment later.
    let first = {
        let (a, alice) = (a.clone(), alice.clone());
        tokio::spawn(async move { a.access_token(&alice).await })
    };
    while refreshes.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let second = b.access_token(&alice).await.expect("B refreshes");
    assert_eq!(second.secret(), "A2");
    match first.await.expect("A") {
        Err(OAuthError::Provider(e)) => assert!(
            matches!(
                e.downcast_ref::<EndpointError>(),
                Some(EndpointError::TimedOut)
            ),
            "{e:?}"
        ),
        other => panic!("A should have given up on its held request, got {other:?}"),
    }
    // The held answer (at 3 s) arrives after both are done: nothing changes.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let cx = a.manager().caller(&alice).expect("caller");
    let kept = vault
        .get(&cx, &a.provider().vault_key())
        .await
        .expect("read")
        .expect("the grant B stored is still there");
    assert_eq!(kept.refresh_token(), Some("R2"));
    assert_eq!(b.access_token(&alice).await.expect("A2").secret(), "A2");
    op_task.abort();
    app_task.abort();
}
