//! A stored grant that cannot be opened (sealed under a key the ring no longer holds, or a
//! value that is not a `TokenSet`) is as good as none: the next `access_token` asks for
//! consent again, whose grant replaces it, and `revoke` deletes it. Before, every call
//! failed with the vault's error for good, and the user could never connect again.

use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use oob::oauth::{OAuthError, TokenSet};
use oob::store::MemoryStore;
use oob::vault::{EncryptedVault, KeyRing, MemoryVault, Sealed, Vault, VaultKey};
use oob_tests::user;

mod oauth_support;
use oauth_support::FakeProvider;

fn token_endpoint() -> Router {
    Router::new().route(
        "/token",
        post(|| async {
            let json = r#"{"access_token":"at-new","refresh_token":"rt-new","token_type":"bearer","expires_in":3600}"#;
            ([(header::CONTENT_TYPE, "application/json")], json).into_response()
        }),
    )
}

fn ring(id: u32, byte: u8) -> KeyRing {
    KeyRing::new(id, VaultKey::from_bytes([byte; 32]))
}

/// Sealed under key 1, read by a service whose ring holds only key 2 (key 1 dropped before
/// this entry was resealed): consent again, and the new grant is read.
#[tokio::test]
async fn a_grant_sealed_under_a_dropped_key_asks_for_consent_again() {
    let mut op = FakeProvider::start(token_endpoint()).await;
    let inner = MemoryVault::<Sealed>::new();
    let vault = EncryptedVault::<TokenSet, _>::new(inner.clone(), ring(2, 2));
    let flow = op.flow_with("fake", MemoryStore::new(), vault, Duration::ZERO);
    op.serve_callback(&flow);
    let alice = user("alice");
    let key = flow.provider().vault_key();
    let t = flow.manager().caller(&alice).expect("caller");
    EncryptedVault::<String, _>::new(inner.clone(), ring(1, 1))
        .put(&t, &key, "a grant sealed under key 1".into())
        .await
        .expect("old grant");

    let asked = flow.access_token(&alice).await;
    assert!(
        matches!(asked, Err(OAuthError::ConsentRequired(_))),
        "{asked:?}"
    );
    op.consent(&flow, "alice").await;
    let token = flow.access_token(&alice).await.expect("the new grant");
    assert_eq!(token.secret(), "at-new");
}

/// A value of another shape under the grant's key: consent is asked for, and `revoke`
/// deletes it (it cannot be revoked at the provider: nobody can read its tokens).
#[tokio::test]
async fn a_grant_of_another_shape_is_replaced_or_revoked() {
    let op = FakeProvider::start(token_endpoint()).await;
    let inner = MemoryVault::<Sealed>::new();
    let vault = EncryptedVault::<TokenSet, _>::new(inner.clone(), ring(2, 2));
    let flow = op.flow_with("fake", MemoryStore::new(), vault.clone(), Duration::ZERO);
    let alice = user("alice");
    let key = flow.provider().vault_key();
    let t = flow.manager().caller(&alice).expect("caller");
    EncryptedVault::<String, _>::new(inner.clone(), ring(2, 2))
        .put(&t, &key, "not a token set".into())
        .await
        .expect("odd value");
    let asked = flow.access_token(&alice).await;
    assert!(
        matches!(asked, Err(OAuthError::ConsentRequired(_))),
        "{asked:?}"
    );
    assert!(flow.revoke(&alice).await.expect("revoke"), "there was one");
    assert!(vault.keys(&t).await.expect("keys").is_empty(), "deleted");
    assert!(!flow.revoke(&alice).await.expect("revoke"), "none left");
}
