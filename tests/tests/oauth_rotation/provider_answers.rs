//! A token endpoint that holds a refresh, answers with a proxy's error page, never answers, or
//! answers a dead refresh token with `200`: a valid token is still served, the lease is
//! released or kept as it should be, and a dead grant asks for consent.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use oob::oauth::OAuthError;
use oob::vault::MemoryVault;
use oob_tests::user;

use crate::oauth_support::FakeProvider;
use crate::{Rotating, json, replica, rotating, uses};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_token_is_served_while_its_refresh_fails_or_runs_elsewhere() {
    let p = Arc::new(Rotating::default());
    p.expires_in.store(50, Ordering::SeqCst);
    let mut op = FakeProvider::start(rotating(p.clone())).await;
    let mem = MemoryVault::new();
    let margin = Duration::from_secs(60);
    let a = replica(&op, mem.clone()).refresh_margin(margin);
    let b = replica(&op, mem.clone()).refresh_margin(margin);
    op.serve_callback(&a);
    op.consent(&a, "alice").await;
    let alice = user("alice");
    // The provider holds every refresh for 10 s: A abandons its request after 1 s.
    p.hold_ms.store(10_000, Ordering::SeqCst);
    let first = {
        let (a, alice) = (a.clone(), alice.clone());
        tokio::spawn(async move { a.access_token(&alice).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(b.access_token(&alice).await.expect("A1").secret(), "A1");
    assert_eq!(first.await.expect("A").expect("A1").secret(), "A1");
    // A kept its lease after abandoning the request (the provider may still act on it):
    // B, asked again at once, serves A1 instead of spending R1 a second time.
    assert_eq!(b.access_token(&alice).await.expect("A1").secret(), "A1");
    assert_eq!(uses(&p), ["R1"]);
}

#[tokio::test]
async fn a_dead_refresh_token_answered_with_200_asks_for_consent() {
    let token = Router::new().route(
        "/token",
        post(|body: String| async move {
            if body.contains("grant_type=authorization_code") {
                return json(r#"{"access_token":"A1","token_type":"bearer","expires_in":0,"refresh_token":"R1"}"#);
            }
            json(r#"{"error":"bad_refresh_token","error_description":"The refresh token passed is incorrect or expired."}"#)
        }),
    );
    let mut op = FakeProvider::start(token).await;
    let a = op.flow(MemoryVault::new());
    op.serve_callback(&a);
    op.consent(&a, "alice").await;
    let got = a.access_token(&user("alice")).await;
    assert!(
        matches!(got, Err(OAuthError::ConsentRequired(_))),
        "{got:?}"
    );
}

/// A token endpoint whose `n`th refresh (from 0) is answered by `answer(n)`; the code gives
/// A1/R1, expired at once.
fn counting<F, Fut>(answer: F) -> Router
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response> + Send + 'static,
{
    let n = Arc::new(AtomicUsize::new(0));
    Router::new().route(
        "/token",
        post(move |body: String| {
            let (n, answer) = (n.clone(), answer.clone());
            async move {
                if body.contains("grant_type=authorization_code") {
                    return json(
                        r#"{"access_token":"A1","token_type":"bearer","expires_in":0,"refresh_token":"R1"}"#,
                    );
                }
                answer(n.fetch_add(1, Ordering::SeqCst)).await
            }
        }),
    )
}

fn fresh() -> Response {
    json(r#"{"access_token":"A2","token_type":"bearer","expires_in":3600,"refresh_token":"R2"}"#)
}

/// A proxy's error page (502, HTML) is an answer: the lease is released, and the next call
/// refreshes at once (it does not wait out the lease).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_error_page_releases_the_lease() {
    let token = counting(|n| async move {
        if n == 0 {
            let mut page = "<html>502 Bad Gateway</html>".into_response();
            *page.status_mut() = StatusCode::BAD_GATEWAY;
            page
        } else {
            fresh()
        }
    });
    let mut op = FakeProvider::start(token).await;
    let a = replica(&op, MemoryVault::new()).refresh_lease(Duration::from_secs(30));
    op.serve_callback(&a);
    op.consent(&a, "alice").await;
    let alice = user("alice");
    let first = a.access_token(&alice).await;
    assert!(matches!(first, Err(OAuthError::Provider(_))), "{first:?}");
    let asked = std::time::Instant::now();
    assert_eq!(a.access_token(&alice).await.expect("A2").secret(), "A2");
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "{:?}",
        asked.elapsed()
    );
}

/// A refresh abandoned for want of an answer keeps its lease (the provider may still act on
/// it) but nobody waits for it: another call answers `Busy` at once, and once the lease
/// ended the next one refreshes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_refresh_is_not_waited_for() {
    let token = counting(|n| async move {
        if n == 0 {
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
        fresh()
    });
    let mut op = FakeProvider::start(token).await;
    let mem = MemoryVault::new();
    let (a, b) = (replica(&op, mem.clone()), replica(&op, mem.clone()));
    op.serve_callback(&a);
    op.consent(&a, "alice").await;
    let alice = user("alice");
    let first = a.access_token(&alice).await;
    assert!(matches!(first, Err(OAuthError::Provider(_))), "{first:?}");
    let asked = std::time::Instant::now();
    let busy = b.access_token(&alice).await;
    assert!(matches!(busy, Err(OAuthError::Busy)), "{busy:?}");
    assert!(
        asked.elapsed() < Duration::from_millis(500),
        "{:?}",
        asked.elapsed()
    );
    // The lease (2 s, taken when A started) ends: B refreshes.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(b.access_token(&alice).await.expect("A2").secret(), "A2");
}
