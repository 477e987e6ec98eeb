//! Refreshing a grant with a provider that rotates refresh tokens and revokes the whole
//! grant when one is used twice (as rotating providers with reuse detection do): no refresh
//! token is spent twice and no grant is lost, whatever the vault or the provider does in
//! between. Found in a hostile review (2026-12-07): a vault write failing after a refresh
//! lost the rotated token; a slow lease write let a request outlive its lease; a slow or
//! failing provider broke calls while the access token was still valid and released the
//! lease at once; a new consent without a refresh token dropped the stored one; GitHub's
//! `200 {"error":"bad_refresh_token"}` never led to a new consent; a revoke racing a
//! refresh left the rotated token live; a new consent during a refresh failed the call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use oob::Capability;
use oob::oauth::{OAuth, OAuthError, TokenSet};
use oob::provider::FromVerifiedSubject;
use oob::store::MemoryStore;
use oob::vault::{Entry, MemoryVault, Vault, VaultError, Version, WriteOptions};
use oob_tests::user;
use reqwest::header;

mod oauth_support;
use oauth_support::FakeProvider;

fn json(body: &str) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_owned(),
    )
        .into_response()
}
fn refused() -> Response {
    let mut r = json(r#"{"error":"invalid_grant"}"#);
    *r.status_mut() = StatusCode::BAD_REQUEST;
    r
}

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

fn boom() -> VaultError {
    VaultError::Backend(Box::new(std::io::Error::other("vault down")))
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

/// A rotating provider: code -> A1/R1 (expires at once). Refresh with Rn (first use) ->
/// A(n+1)/R(n+1); any reuse of a spent refresh token revokes the whole grant (as rotating
/// providers do) and answers invalid_grant.
#[derive(Default)]
struct Rotating {
    next: AtomicUsize,
    spent: Mutex<Vec<String>>,
    revoked: std::sync::atomic::AtomicBool,
    uses: Mutex<Vec<String>>,
    hold_ms: AtomicUsize,
    expires_in: AtomicUsize,
}

fn rotating(p: Arc<Rotating>) -> Router {
    Router::new().route(
        "/token",
        post(move |body: String| {
            let p = p.clone();
            async move {
                let exp = p.expires_in.load(Ordering::SeqCst);
                if body.contains("grant_type=authorization_code") {
                    p.next.store(1, Ordering::SeqCst);
                    return json(&format!(
                        r#"{{"access_token":"A1","token_type":"bearer","expires_in":{exp},"refresh_token":"R1"}}"#
                    ));
                }
                let rt = body
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("refresh_token="))
                    .unwrap_or("")
                    .to_owned();
                p.uses.lock().unwrap().push(rt.clone());
                let current = format!("R{}", p.next.load(Ordering::SeqCst));
                let ok = {
                    let mut spent = p.spent.lock().unwrap();
                    if p.revoked.load(Ordering::SeqCst) || rt != current || spent.contains(&rt) {
                        p.revoked.store(true, Ordering::SeqCst);
                        false
                    } else {
                        spent.push(rt.clone());
                        true
                    }
                };
                let hold = p.hold_ms.load(Ordering::SeqCst);
                if hold > 0 {
                    tokio::time::sleep(Duration::from_millis(hold as u64)).await;
                }
                if !ok {
                    return refused();
                }
                let n = p.next.fetch_add(1, Ordering::SeqCst) + 1;
                json(&format!(
                    r#"{{"access_token":"A{n}","token_type":"bearer","expires_in":3600,"refresh_token":"R{n}"}}"#
                ))
            }
        }),
    )
}

/// Two replicas (flows) on `vault`s sharing one store of grants, with a 2 s refresh lease.
fn replica<V: Vault<TokenSet> + Clone>(
    op: &FakeProvider,
    vault: V,
) -> OAuth<MemoryStore<oob::oauth::Consent>, FromVerifiedSubject, V> {
    op.flow_with("fake", MemoryStore::new(), vault, Duration::ZERO)
        .refresh_lease(Duration::from_secs(2))
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

fn uses(p: &Rotating) -> Vec<String> {
    p.uses.lock().unwrap().clone()
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
