//! A key rotation's re-seal during a refresh: the re-seal writes the lease again under a new
//! version, and the refresh's final compare-and-swap still stores the rotated refresh token
//! (its lease is still this replica's). Found in a hostile review (2026-12-07): the refresh
//! dropped the rotated token on the re-seal's conflict, read its own lease back, waited
//! for it to end and spent the old refresh token again, which a rotating provider with
//! reuse detection answers by revoking the whole grant.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use oob::Capability;
use oob::oauth::{OAuth, TokenSet};
use oob::provider::FromVerifiedSubject;
use oob::store::MemoryStore;
use oob::vault::{
    EncryptedVault, Entry, KeyRing, MemoryVault, Sealed, Vault, VaultError, VaultKey, Version,
    WriteOptions,
};
use oob_tests::user;
use reqwest::header;
use tokio::sync::Notify;

mod oauth_support;
use oauth_support::FakeProvider;

fn key(b: u8) -> VaultKey {
    VaultKey::from_bytes([b; 32])
}

fn json(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A provider that rotates refresh tokens and revokes the grant when one is used twice.
/// A refresh request announces itself (`arrived`) and is answered once the test says
/// (`go`).
#[derive(Default)]
struct Rotating {
    next: AtomicUsize,
    uses: Mutex<Vec<String>>,
    arrived: Notify,
    go: Notify,
}

fn rotating(p: Arc<Rotating>) -> Router {
    Router::new().route(
        "/token",
        post(move |body: String| {
            let p = p.clone();
            async move {
                if body.contains("grant_type=authorization_code") {
                    p.next.store(1, Ordering::SeqCst);
                    return json(
                        StatusCode::OK,
                        r#"{"access_token":"A1","token_type":"bearer","expires_in":1,"refresh_token":"R1"}"#.into(),
                    );
                }
                let used = body
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("refresh_token="))
                    .unwrap_or("")
                    .to_owned();
                let spent_before = p.uses.lock().unwrap().contains(&used);
                p.uses.lock().unwrap().push(used.clone());
                p.arrived.notify_one();
                p.go.notified().await;
                let current = format!("R{}", p.next.load(Ordering::SeqCst));
                if spent_before || used != current {
                    return json(StatusCode::BAD_REQUEST, r#"{"error":"invalid_grant"}"#.into());
                }
                let n = p.next.fetch_add(1, Ordering::SeqCst) + 1;
                json(
                    StatusCode::OK,
                    format!(
                        r#"{{"access_token":"A{n}","token_type":"bearer","expires_in":3600,"refresh_token":"R{n}"}}"#
                    ),
                )
            }
        }),
    )
}

type Enc = EncryptedVault<TokenSet, MemoryVault<Sealed>>;

/// The replica's vault; once armed, the first read after a write that conflicted fails
/// with a (transient) backend error.
#[derive(Clone)]
struct BlipAfterConflict {
    inner: Enc,
    armed: Arc<AtomicBool>,
    fail_next_read: Arc<AtomicBool>,
}

impl Vault<TokenSet> for BlipAfterConflict {
    async fn write(
        &self,
        token: &dyn Capability,
        key: &str,
        value: TokenSet,
        options: WriteOptions,
    ) -> Result<Version, VaultError> {
        let r = self.inner.write(token, key, value, options).await;
        if matches!(r, Err(VaultError::Conflict { .. })) && self.armed.swap(false, Ordering::SeqCst)
        {
            self.fail_next_read.store(true, Ordering::SeqCst);
        }
        r
    }

    async fn read(
        &self,
        token: &dyn Capability,
        key: &str,
    ) -> Result<Option<Entry<TokenSet>>, VaultError> {
        if self.fail_next_read.swap(false, Ordering::SeqCst) {
            return Err(VaultError::Backend(Box::new(std::io::Error::other("blip"))));
        }
        self.inner.read(token, key).await
    }

    async fn delete(&self, token: &dyn Capability, key: &str) -> Result<bool, VaultError> {
        self.inner.delete(token, key).await
    }

    async fn keys(&self, token: &dyn Capability) -> Result<Vec<String>, VaultError> {
        self.inner.keys(token).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reseal_during_a_refresh_keeps_the_rotated_refresh_token() {
    refresh_across_a_reseal(false).await;
}

/// The same, with the read that follows the lease to its new version failing once: the
/// store of the refreshed grant is tried again, not given up as another writer's. (Found
/// in the re-review of the fix, 2026-12-07.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_read_while_following_the_lease_is_tried_again() {
    refresh_across_a_reseal(true).await;
}

async fn refresh_across_a_reseal(blip: bool) {
    let p = Arc::new(Rotating::default());
    let mut op = FakeProvider::start(rotating(p.clone())).await;
    let inner = MemoryVault::<Sealed>::new();
    // The refreshing replica still seals with key 1 (it knows key 2), as on the
    // documented compromised-key path where the phases run without waiting.
    let replica = BlipAfterConflict {
        inner: EncryptedVault::new(
            inner.clone(),
            KeyRing::new(1, key(1)).with_old_key(2, key(2)),
        ),
        armed: Arc::default(),
        fail_next_read: Arc::default(),
    };
    let armed = replica.armed.clone();
    let a: OAuth<MemoryStore<oob::oauth::Consent>, FromVerifiedSubject, BlipAfterConflict> = op
        .flow_with("fake", MemoryStore::new(), replica, Duration::ZERO)
        .refresh_lease(Duration::from_secs(20));
    op.serve_callback(&a);
    op.consent(&a, "alice").await;
    let alice = user("alice");
    // A1 expires in 1 s.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let refresh = {
        let (a, alice) = (a.clone(), alice.clone());
        tokio::spawn(async move { a.access_token(&alice).await })
    };
    // The refresh is at the provider, its lease written under key 1: the operator's
    // rotation job (key 2 active) re-seals it.
    p.arrived.notified().await;
    let rotation: Enc = EncryptedVault::new(
        inner.clone(),
        KeyRing::new(2, key(2)).with_old_key(1, key(1)),
    );
    let report = rotation.reseal_all().await.expect("reseal_all");
    assert_eq!(report.resealed, 1, "{report:?}");
    armed.store(blip, Ordering::SeqCst);
    p.go.notify_one();
    let got = tokio::time::timeout(Duration::from_secs(10), refresh)
        .await
        .expect("the refresh answers")
        .expect("task");
    assert_eq!(got.expect("access token").secret(), "A2");
    let token = a.manager().caller(&alice).expect("caller");
    let stored = rotation
        .get(&token, "oauth:fake")
        .await
        .expect("read")
        .expect("the grant is kept");
    assert_eq!(
        stored.refresh_token(),
        Some("R2"),
        "the rotated refresh token is stored"
    );
    assert_eq!(stored.access_token().secret(), "A2");
    // Stored without its lease: the next call serves it at once.
    let next = tokio::time::timeout(Duration::from_secs(5), a.access_token(&alice))
        .await
        .expect("not waiting on a lease");
    assert_eq!(next.expect("access token").secret(), "A2");
    assert_eq!(*p.uses.lock().unwrap(), ["R1"], "R1 is spent once");
}
