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
use oauth_support::{FakeProvider, Flow};

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

/// Alice's consent through a provider issuing `secs`-second tokens and no refresh token,
/// with this refresh margin; her token is then served three times in a row.
async fn consented(secs: u64, margin: Duration) -> (FakeProvider, Flow) {
    let mut fake = FakeProvider::start(no_refresh_token(secs)).await;
    let flow = fake.flow(MemoryVault::new()).refresh_margin(margin);
    fake.serve_callback(&flow);
    fake.consent(&flow, "alice").await;
    for _ in 0..3 {
        let token = flow
            .access_token(&user("alice"))
            .await
            .expect("still valid");
        assert_eq!(token.secret(), "at-valid");
    }
    (fake, flow)
}

#[tokio::test]
async fn a_token_shorter_than_the_margin_serves_until_it_expires() {
    let (_fake, flow) = consented(2, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert!(matches!(
        flow.access_token(&user("alice")).await,
        Err(OAuthError::ConsentRequired(_))
    ));
}

#[tokio::test]
async fn a_margin_longer_than_the_token_keeps_a_grant_without_refresh_token() {
    let _served = consented(3_600, Duration::from_secs(7_200)).await;
}
