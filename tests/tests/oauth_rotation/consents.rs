//! A new consent or a revoke meeting a stored or refreshing grant: a new consent during a
//! refresh is what the refresh serves, one without a refresh token keeps the stored one, and
//! a revoke waits for a refresh and revokes the rotated token.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use oob::oauth::TokenSet;
use oob::store::MemoryStore;
use oob::vault::{MemoryVault, Vault};
use oob_tests::user;

use crate::oauth_support::{self, FakeProvider};
use crate::{Rotating, json, refused, rotating};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_consent_during_a_refresh_is_what_the_refresh_serves() {
    let p = Arc::new(Rotating::default());
    p.expires_in.store(1, Ordering::SeqCst);
    let mut op = FakeProvider::start(rotating(p.clone())).await;
    let a = op
        .flow_on(
            "fake",
            MemoryStore::new(),
            MemoryVault::new(),
            Duration::ZERO,
        )
        .refresh_lease(Duration::from_secs(4));
    op.serve_callback(&a);
    op.consent(&a, "alice").await;
    let alice = user("alice");
    p.hold_ms.store(800, Ordering::SeqCst);
    p.expires_in.store(3600, Ordering::SeqCst);
    let first = {
        let (a, alice) = (a.clone(), alice.clone());
        tokio::spawn(async move { a.access_token(&alice).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let pending = a.start(&alice).await.expect("a consent");
    let res = reqwest::Client::new()
        .get(format!(
            "{}?code=c2&state={}",
            op.redirect,
            oauth_support::state_of(&a, &pending)
        ))
        .header("x-user", "alice")
        .send()
        .await
        .expect("callback");
    assert_eq!(res.status(), StatusCode::OK);
    // The refresh's write meets the new grant (a conflict): it reads and serves that.
    let token = first.await.expect("A").expect("the new grant's token");
    assert_eq!(token.secret(), "A1");
}

#[tokio::test]
async fn a_new_consent_without_a_refresh_token_keeps_the_stored_one() {
    let token = Router::new().route(
        "/token",
        post(|body: String| async move {
            if body.contains("code=c1") {
                return json(r#"{"access_token":"A1","token_type":"bearer","expires_in":3600,"refresh_token":"R1"}"#);
            }
            if body.contains("code=c2") {
                return json(r#"{"access_token":"A2","token_type":"bearer","expires_in":0}"#);
            }
            if body.contains("refresh_token=R1") {
                return json(r#"{"access_token":"A3","token_type":"bearer","expires_in":3600}"#);
            }
            refused()
        }),
    );
    let mut op = FakeProvider::start(token).await;
    let a = op.flow(MemoryVault::new());
    op.serve_callback(&a);
    op.consent(&a, "alice").await;
    let alice = user("alice");
    let pending = a.start(&alice).await.expect("a consent");
    let res = reqwest::Client::new()
        .get(format!(
            "{}?code=c2&state={}",
            op.redirect,
            oauth_support::state_of(&a, &pending)
        ))
        .header("x-user", "alice")
        .send()
        .await
        .expect("callback");
    assert_eq!(res.status(), StatusCode::OK);
    // A2 expired at once: refreshed with the R1 the first consent gave.
    assert_eq!(a.access_token(&alice).await.expect("A3").secret(), "A3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_waits_for_a_refresh_and_revokes_the_rotated_token() {
    let p = Arc::new(Rotating::default());
    p.hold_ms.store(800, Ordering::SeqCst);
    p.next.store(1, Ordering::SeqCst);
    let revoked = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = revoked.clone();
    let router = rotating(p.clone()).route(
        "/revoke",
        post(move |body: String| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(body);
                StatusCode::OK
            }
        }),
    );
    let (base, _task) = oauth_support::serve(router).await;
    let vault = MemoryVault::<TokenSet>::new();
    let flow = oauth_support::flow_served_at(&base, vault.clone(), true);
    let alice = user("alice");
    let cx = flow.manager().caller(&alice).expect("caller");
    let set: TokenSet = serde_json::from_str(
        r#"{"access_token":"A1","refresh_token":"R1","expires_at_ms":1,"scopes":[]}"#,
    )
    .expect("a token set");
    vault
        .put(&cx, &flow.provider().vault_key(), set)
        .await
        .expect("stored");
    let refresh = {
        let (f, alice) = (flow.clone(), alice.clone());
        tokio::spawn(async move { f.access_token(&alice).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(flow.revoke(&alice).await.expect("revoked"));
    assert_eq!(refresh.await.expect("refresh").expect("A2").secret(), "A2");
    // The token revoked is the one the refresh rotated to, and the grant is gone.
    let sent = revoked.lock().unwrap().clone();
    assert!(sent.iter().any(|b| b.contains("token=R2")), "{sent:?}");
    assert!(
        vault
            .get(&cx, &flow.provider().vault_key())
            .await
            .expect("read")
            .is_none()
    );
}
