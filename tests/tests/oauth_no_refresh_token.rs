//! A grant without a refresh token serves its access token until it expires, and only then
//! asks for consent again. Before, it was ended as soon as it came within the refresh margin
//! (30 s here): a provider issuing shorter tokens and no refresh token gave grants that were
//! dropped right after each consent, and one inside the margin lost its last valid seconds.

use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use oob::oauth::OAuthError;
use oob::vault::MemoryVault;
use oob_tests::user;

mod oauth_support;
use oauth_support::FakeProvider;

/// A token endpoint that grants `at-<n>` for `secs` seconds, with no refresh token.
fn no_refresh_token(secs: u64) -> Router {
    Router::new().route(
        "/token",
        post(move || async move {
            let body = format!(
                r#"{{"access_token":"at-valid","token_type":"bearer","expires_in":{secs}}}"#
            );
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }),
    )
}

#[tokio::test]
async fn a_token_shorter_than_the_margin_serves_until_it_expires() {
    let mut fake = FakeProvider::start(no_refresh_token(2)).await;
    let flow = fake.flow(MemoryVault::new());
    fake.serve_callback(&flow);
    fake.consent(&flow, "alice").await;
    for _ in 0..3 {
        let token = flow
            .access_token(&user("alice"))
            .await
            .expect("still valid");
        assert_eq!(token.secret(), "at-valid");
    }
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert!(matches!(
        flow.access_token(&user("alice")).await,
        Err(OAuthError::ConsentRequired(_))
    ));
}

#[tokio::test]
async fn a_margin_longer_than_the_token_keeps_a_grant_without_refresh_token() {
    let mut fake = FakeProvider::start(no_refresh_token(3_600)).await;
    let flow = fake
        .flow(MemoryVault::new())
        .refresh_margin(Duration::from_secs(7_200));
    fake.serve_callback(&flow);
    fake.consent(&flow, "alice").await;
    for _ in 0..3 {
        let token = flow
            .access_token(&user("alice"))
            .await
            .expect("still valid");
        assert_eq!(token.secret(), "at-valid");
    }
}
