//! A vault that fails a write, writes and then answers with a failure, is slow to write a
//! lease, or fails every write: the refreshed grant is kept and no refresh token is spent
//! twice.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use oob::Capability;
use oob::oauth::{OAuth, OAuthError, TokenSet};
use oob::provider::FromVerifiedSubject;
use oob::store::MemoryStore;
use oob::vault::{Entry, MemoryVault, Vault, VaultError, Version, WriteOptions};
use oob_tests::user;

use crate::oauth_support::{self, FakeProvider};
use crate::{Rotating, boom, replica, rotating, uses};

fn is_lease(v: &TokenSet) -> bool {
    serde_json::to_value(v)
        .unwrap()
        .get("refreshing_until_ms")
        .is_some()
}

/// A wrapper vault with fault hooks.
#[derive(Clone)]
struct Faulty {
    inner: MemoryVault<TokenSet>,
    /// Fail (without writing) the writes whose refresh token is this, this many times.
    fail_rt: Arc<Mutex<Option<(String, usize)>>>,
    /// Write, then fail, when the refresh token is this (once).
    write_then_fail_rt: Arc<Mutex<Option<String>>>,
    /// Delay after a lease write lands.
    lease_delay: Arc<Mutex<Duration>>,
}

impl Faulty {
    fn new(inner: MemoryVault<TokenSet>) -> Self {
        Self {
            inner,
            fail_rt: Arc::default(),
            write_then_fail_rt: Arc::default(),
            lease_delay: Arc::default(),
        }
    }
}

impl Vault<TokenSet> for Faulty {
    async fn write(
        &self,
        token: &dyn Capability,
        key: &str,
        value: TokenSet,
        options: WriteOptions,
    ) -> Result<Version, VaultError> {
        let rt = value.refresh_token().map(str::to_owned);
        {
            let mut f = self.fail_rt.lock().unwrap();
            if let Some((want, n)) = f.as_mut()
                && rt.as_deref() == Some(want.as_str())
                && *n > 0
            {
                *n -= 1;
                return Err(boom());
            }
        }
        let wtf = {
            let mut f = self.write_then_fail_rt.lock().unwrap();
            if f.is_some() && rt == *f {
                f.take();
                true
            } else {
                false
            }
        };
        let lease = is_lease(&value);
        let r = self.inner.write(token, key, value, options).await;
        if lease {
            let d = *self.lease_delay.lock().unwrap();
            if !d.is_zero() {
                tokio::time::sleep(d).await;
            }
        }
        if wtf && r.is_ok() {
            return Err(boom());
        }
        r
    }
    async fn read(
        &self,
        token: &dyn Capability,
        key: &str,
    ) -> Result<Option<Entry<TokenSet>>, VaultError> {
        self.inner.read(token, key).await
    }
    async fn delete(&self, token: &dyn Capability, key: &str) -> Result<bool, VaultError> {
        self.inner.delete(token, key).await
    }
    async fn keys(&self, token: &dyn Capability) -> Result<Vec<String>, VaultError> {
        self.inner.keys(token).await
    }
}

/// A provider whose tokens expire in a second, one replica on a [`Faulty`] vault, and
/// alice's consent given: the provider (kept serving), the vault and the replica.
async fn consented_on_a_faulty_vault() -> (
    Arc<Rotating>,
    FakeProvider,
    Faulty,
    OAuth<MemoryStore<oob::oauth::Consent>, FromVerifiedSubject, Faulty>,
) {
    let p = Arc::new(Rotating::default());
    p.expires_in.store(1, Ordering::SeqCst);
    let mut op = FakeProvider::start(rotating(p.clone())).await;
    let vault = Faulty::new(MemoryVault::new());
    let a = replica(&op, vault.clone());
    op.serve_callback(&a);
    op.consent(&a, "alice").await;
    (p, op, vault, a)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refreshed_grant_is_stored_once_the_vault_recovers() {
    let (p, _op, vault, a) = consented_on_a_faulty_vault().await;
    let alice = user("alice");
    // The vault fails the first write of the refreshed grant.
    *vault.fail_rt.lock().unwrap() = Some(("R2".into(), 2));
    assert_eq!(a.access_token(&alice).await.expect("A2").secret(), "A2");
    // Stored after all: served from the vault, no second refresh, R1 spent once.
    assert_eq!(a.access_token(&alice).await.expect("A2").secret(), "A2");
    assert_eq!(uses(&p), ["R1"]);
    assert!(!p.revoked.load(Ordering::SeqCst));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_lease_write_never_lets_a_request_outlive_the_lease() {
    let p = Arc::new(Rotating::default());
    p.expires_in.store(1, Ordering::SeqCst);
    let mut op = FakeProvider::start(rotating(p.clone())).await;
    let mem = MemoryVault::new();
    let (va, vb) = (Faulty::new(mem.clone()), Faulty::new(mem.clone()));
    let (a, b) = (replica(&op, va.clone()), replica(&op, vb));
    op.serve_callback(&a);
    op.consent(&a, "alice").await;
    let alice = user("alice");
    // A's lease write answers after 1.5 s, past the 1 s its request may take.
    *va.lease_delay.lock().unwrap() = Duration::from_millis(1500);
    p.hold_ms.store(700, Ordering::SeqCst);
    let first = {
        let (a, alice) = (a.clone(), alice.clone());
        tokio::spawn(async move { a.access_token(&alice).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    // B, during A's lease, is served A1 while it is valid.
    assert_eq!(b.access_token(&alice).await.expect("A1").secret(), "A1");
    let _ = first.await.expect("A");
    // After A's lease, B refreshes: R1 was spent once, and the grant lives on.
    assert_eq!(b.access_token(&alice).await.expect("A2").secret(), "A2");
    assert_eq!(uses(&p), ["R1"]);
    assert!(!p.revoked.load(Ordering::SeqCst));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refreshed_grant_written_with_a_failure_answer_is_read_back() {
    let (p, _op, vault, a) = consented_on_a_faulty_vault().await;
    // The vault stores the refreshed grant, then answers with a failure.
    *vault.write_then_fail_rt.lock().unwrap() = Some("R2".into());
    let alice = user("alice");
    assert_eq!(a.access_token(&alice).await.expect("A2").secret(), "A2");
    assert_eq!(a.access_token(&alice).await.expect("A2").secret(), "A2");
    assert_eq!(uses(&p), ["R1"]);
}

/// A vault whose writes all fail.
#[derive(Clone, Default)]
struct NoWrites(MemoryVault<TokenSet>);

impl Vault<TokenSet> for NoWrites {
    async fn write(
        &self,
        _token: &dyn Capability,
        _key: &str,
        _value: TokenSet,
        _options: WriteOptions,
    ) -> Result<Version, VaultError> {
        Err(boom())
    }
    async fn read(
        &self,
        token: &dyn Capability,
        key: &str,
    ) -> Result<Option<Entry<TokenSet>>, VaultError> {
        self.0.read(token, key).await
    }
    async fn delete(&self, token: &dyn Capability, key: &str) -> Result<bool, VaultError> {
        self.0.delete(token, key).await
    }
    async fn keys(&self, token: &dyn Capability) -> Result<Vec<String>, VaultError> {
        self.0.keys(token).await
    }
}

/// A consent whose tokens cannot be stored: the callback says so and asks for a new link
/// (the consent is completed: its own link cannot be used again), with no "try again" link.
#[tokio::test]
async fn a_consent_whose_tokens_are_not_saved_asks_for_a_new_link() {
    let mut op = FakeProvider::start(oauth_support::echo_token_endpoint()).await;
    let a = op.flow_with(
        "fake",
        MemoryStore::new(),
        NoWrites::default(),
        Duration::ZERO,
    );
    op.serve_callback(&a);
    let alice = user("alice");
    let pending = match a.access_token(&alice).await {
        Err(OAuthError::ConsentRequired(p)) => p,
        other => panic!("{other:?}"),
    };
    let res = reqwest::Client::new()
        .get(format!(
            "{}?code=c1&state={}",
            op.redirect,
            oauth_support::state_of(&a, &pending)
        ))
        .header("x-user", "alice")
        .send()
        .await
        .expect("callback");
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let page = res.text().await.expect("page");
    assert!(page.contains("new link"), "{page}");
    assert!(!page.contains("Try again"), "{page}");
    assert!(matches!(
        a.access_token(&alice).await,
        Err(OAuthError::ConsentRequired(_))
    ));
}
