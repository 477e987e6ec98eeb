//! The grant's life at the provider: consent with PKCE, the token used there, refresh after
//! expiry, one refresh across replicas, a revoked grant asking again, revocation here and
//! there, a declined consent.

use std::time::Duration;

use oob::AnyPending;
use oob_tests::oidc::{CLIENT_ID, CLIENT_SECRET, Decision, location};
use oob_tests::user;
use reqwest::StatusCode;

use super::fixture::{
    at_provider, callback_as, connect, consent_required, fixture, flow, open_as, stored,
    userinfo_sub, vault_of,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_with_pkce_gives_a_token_that_refreshes_after_expiry() {
    let Some(f) = fixture(Duration::from_secs(3)).await else {
        return;
    };
    connect(&f, "alice").await;
    let alice = user("alice");
    let first = f.oauth.access_token(&alice).await.expect("token");
    assert_eq!(
        userinfo_sub(&f, first.secret()).await.as_deref(),
        Some("alice")
    );
    // Still fresh: the same token, no refresh.
    assert_eq!(f.oauth.access_token(&alice).await.expect("token"), first);
    // Past its expiry (minus the margin): refreshed transparently, and the new one works.
    tokio::time::sleep(Duration::from_millis(2_700)).await;
    let second = f.oauth.access_token(&alice).await.expect("refreshed");
    assert_ne!(second, first);
    assert_eq!(
        userinfo_sub(&f, second.secret()).await.as_deref(),
        Some("alice")
    );
    let set = stored(&f, "alice").await.expect("stored");
    assert_eq!(set.access_token(), second);
    assert!(set.expires_at().expect("expiry") > std::time::SystemTime::now());
    // Bob has no grant: asked to consent, alice's token is not his.
    let bob = user("bob");
    consent_required(f.oauth.access_token(&bob).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_refresh_once_and_share_the_result() {
    let Some(f) = fixture(Duration::from_secs(2)).await else {
        return;
    };
    connect(&f, "alice").await;
    // A second replica: its own OAuth and manager, the same store and vault.
    let store = f.oauth.manager().store().clone();
    let other = flow(&f.op, &f.base, &f.redirect, vault_of(&f), store);
    // Past the token's expiry: both need the refresh's result (while the token is still
    // valid, a replica that finds another refreshing serves it instead of waiting).
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let (a, b) = tokio::join!(
        async { f.oauth.access_token(&user("alice")).await },
        async { other.access_token(&user("alice")).await },
    );
    let (a, b) = (a.expect("replica a"), b.expect("replica b"));
    // The provider rotates refresh tokens: two refreshes would give two tokens (and the
    // second would fail on the rotated refresh token).
    assert_eq!(a, b);
    assert_eq!(userinfo_sub(&f, a.secret()).await.as_deref(), Some("alice"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_revoked_at_the_provider_asks_again() {
    let Some(f) = fixture(Duration::from_secs(2)).await else {
        return;
    };
    let first = connect(&f, "alice").await;
    let set = stored(&f, "alice").await.expect("stored");
    // The user revokes the grant at the provider (RFC 7009, as its account page would).
    let res = f
        .app
        .post(f.op.revocation_url())
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[("token", set.refresh_token().expect("refresh token"))])
        .send()
        .await
        .expect("revoke");
    assert!(res.status().is_success());
    tokio::time::sleep(Duration::from_millis(1_700)).await;
    let again = consent_required(f.oauth.access_token(&user("alice")).await);
    assert_ne!(again.id(), first.id(), "a new consent");
    assert!(
        stored(&f, "alice").await.is_none(),
        "the dead grant is gone"
    );
    // And the new consent works.
    let res = open_as(&f, &again.callback_url(), "alice").await;
    let callback = at_provider(&f, &location(&res), "alice", Decision::Consent).await;
    assert_eq!(
        callback_as(&f, &callback, Some("alice")).await.status(),
        StatusCode::OK
    );
    f.oauth
        .access_token(&user("alice"))
        .await
        .expect("token again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_ends_the_grant_here_and_at_the_provider() {
    let Some(f) = fixture(Duration::from_secs(60)).await else {
        return;
    };
    connect(&f, "alice").await;
    let alice = user("alice");
    let access = f.oauth.access_token(&alice).await.expect("token");
    let refresh = stored(&f, "alice").await.expect("stored");
    assert!(f.oauth.revoke(&alice).await.expect("revoke"));
    assert!(!f.oauth.revoke(&alice).await.expect("nothing left"));
    consent_required(f.oauth.access_token(&alice).await);
    // The provider no longer honours the refresh token.
    let res = f
        .app
        .post(f.op.token_url())
        .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.refresh_token().expect("rt")),
        ])
        .send()
        .await
        .expect("refresh");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let _ = access;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declining_at_the_provider_declines_the_pending() {
    let Some(f) = fixture(Duration::from_secs(60)).await else {
        return;
    };
    let alice = user("alice");
    let pending = consent_required(f.oauth.access_token(&alice).await);
    let res = open_as(&f, &pending.callback_url(), "alice").await;
    let callback = at_provider(&f, &location(&res), "alice", Decision::Decline).await;
    assert!(callback.contains("error=access_denied"), "{callback}");
    let res = callback_as(&f, &callback, Some("alice")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.expect("page").contains("declined"));
    match f.oauth.manager().get(pending.id()).await.expect("get") {
        AnyPending::Cancelled(p) => assert!(p.is_declined()),
        other => panic!("{other:?}"),
    }
    assert!(stored(&f, "alice").await.is_none());
}
