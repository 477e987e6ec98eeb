//! A refresh across replicas never outlives its lease. Two replicas share one vault; the
//! first takes the refresh lease, and the provider holds its request past the lease and then
//! refuses it (the refresh token was already rotated: what a provider answers a reused one).
//! The first replica gives up before its lease ends and keeps the lease until it ends (the
//! provider may still act on the abandoned request; the second answers `Busy` meanwhile
//! instead of waiting for an answer that will not come), so the second takes over then,
//! refreshes and stores the rotated tokens, and the first's late answer changes nothing.
//! (Before, the first waited for the answer, and its `invalid_grant` deleted the grant the
//! second had just stored: the user's new refresh token was lost.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use oob::oauth::{EndpointError, OAuthError};
use oob::vault::{MemoryVault, Vault};
use oob_tests::user;
use reqwest::header;

mod oauth_support;
use oauth_support::FakeProvider;

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
                        r#"{"access_token":"A1","token_type":"bearer","expires_in":0,"refresh_token":"R1"}"#,
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
    let mut op = FakeProvider::start(token).await;
    let vault = MemoryVault::new();
    let replica = || op.flow(vault.clone()).refresh_lease(Duration::from_secs(2));
    let (a, b) = (replica(), replica());
    op.serve_callback(&a);
    // Alice consents through replica A.
    op.consent(&a, "alice").await;
    let alice = user("alice");

    // A1 has expired: A refreshes first, B a moment later (and waits for A's lease).
    let first = {
        let (a, alice) = (a.clone(), alice.clone());
        tokio::spawn(async move { a.access_token(&alice).await })
    };
    while refreshes.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let asked = std::time::Instant::now();
    // B waits for A's refresh; once A abandons it (after 1 s), B answers `Busy` at once
    // until the lease ends, then refreshes itself.
    let second = loop {
        match b.access_token(&alice).await {
            Err(OAuthError::Busy) => tokio::time::sleep(Duration::from_millis(100)).await,
            other => break other.expect("B refreshes"),
        }
        assert!(
            asked.elapsed() < Duration::from_secs(10),
            "B never refreshed"
        );
    };
    assert_eq!(second.secret(), "A2");
    // Not before A's lease (2 s) ended: A abandoned its request at 1 s, but kept the lease.
    assert!(
        asked.elapsed() >= Duration::from_millis(1_500),
        "{:?}",
        asked.elapsed()
    );
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
}
