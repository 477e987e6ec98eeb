//! A consent whose PKCE verifier does not have RFC 7636's shape (43 to 128 characters of
//! `A-Z a-z 0-9 - . _ ~`) does not decode: not from JSON in ordinary code, not from a
//! stored record edited by hand, cut short or written by something else. Before, such a
//! consent reached the PKCE challenge, which asserts that shape: `authorization_url`
//! panicked, and the consent start page dropped the connection instead of answering.

use std::time::Duration;

use axum::Router;
use axum::middleware;
use oob::oauth::{Consent, OAuthError};
use oob::store::SqliteStore;
use oob::vault::MemoryVault;
use oob_tests::sqlite_file::TempDb;
use oob_tests::user;

mod oauth_support;
use oauth_support::{FakeProvider, serve, signed_in};

#[test]
fn a_consent_with_a_verifier_of_another_shape_does_not_decode() {
    for verifier in ["short", &"a".repeat(129), &format!("{}/", "a".repeat(43))] {
        let json = format!(r#"{{"provider":"fake","scopes":["x"],"pkce_verifier":"{verifier}"}}"#);
        let e = serde_json::from_str::<Consent>(&json).expect_err("refused");
        assert!(
            !e.to_string().contains(verifier),
            "names no part of it: {e}"
        );
    }
    let json = format!(
        r#"{{"provider":"fake","scopes":["x"],"pkce_verifier":"{}"}}"#,
        "a".repeat(43)
    );
    serde_json::from_str::<Consent>(&json).expect("the shape the flow makes");
}

#[tokio::test]
async fn an_edited_consent_record_gets_an_error_page() {
    let fake = FakeProvider::start(Router::new()).await;
    let db = TempDb::new("consent");
    let store = SqliteStore::<Consent>::open(db.path()).expect("open");
    let flow = fake.flow_at(
        "fake",
        store,
        MemoryVault::new(),
        Duration::ZERO,
        &fake.redirect,
    );
    let pending = match flow.access_token(&user("alice")).await {
        Err(OAuthError::ConsentRequired(p)) => p,
        other => panic!("expected a consent, got {other:?}"),
    };
    let edited = rusqlite::Connection::open(db.path())
        .expect("open the file")
        .execute(
            "UPDATE oob_pendings SET data = json_set(data, '$.pkce_verifier', 'x')",
            [],
        )
        .expect("edit");
    assert_eq!(edited, 1);

    let (base, _task) = serve(flow.router().layer(middleware::from_fn(signed_in))).await;
    let page = reqwest::Client::new()
        .get(format!("{base}/oob/oauth/{}", pending.id()))
        .header("x-user", "alice")
        .send()
        .await
        .expect("a page, not a dropped connection");
    assert!(page.status().is_server_error(), "{}", page.status());
}
