//! OAuth consents against a real authorization server (`oidc-provider`, run by Node on a
//! loopback port): consent with PKCE, the token used at the provider, refresh after expiry,
//! one refresh across replicas, a revoked grant asking again, revocation, a declined consent,
//! and the hostile paths (wrong state, replayed callback, another user, signed out).

use std::time::Duration;

use axum::Router;
use axum::middleware;
use oob::oauth::{Consent, OAuth, OAuthError, Provider, TokenSet};
use oob::provider::FromVerifiedSubject;
use oob::store::MemoryStore;
use oob::vault::{MemoryVault, Vault};
use oob::{AnyPending, CallbackBase, Manager, Pending, state::Open};
use oob_tests::oidc::{self, CLIENT_ID, CLIENT_SECRET, Decision, OidcProvider};
use oob_tests::user;
use reqwest::{StatusCode, header};

mod oauth_support;
use oauth_support::{FakeProvider, Flow, signed_in};

struct Fixture {
    op: OidcProvider,
    base: String,
    redirect: String,
    oauth: Flow,
    app: reqwest::Client,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn flow(
    op: &OidcProvider,
    base: &str,
    redirect: &str,
    vault: MemoryVault<TokenSet>,
    store: MemoryStore<Consent>,
) -> Flow {
    let provider = Provider::new(
        "test",
        CLIENT_ID,
        op.authorization_url(),
        op.token_url(),
        redirect,
    )
    .expect("provider")
    .client_secret(CLIENT_SECRET)
    .scopes(["openid"])
    .revocation_url(op.revocation_url())
    .expect("revocation url");
    let manager = Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse(base).expect("base"))
        .build();
    OAuth::new(manager, vault, provider)
        .expect("oauth")
        .refresh_margin(Duration::from_millis(500))
}

async fn fixture(access_ttl: Duration) -> Option<Fixture> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let redirect = format!("{base}/oob/oauth/callback");
    let op = OidcProvider::start(&redirect, access_ttl)?;
    let oauth = flow(
        &op,
        &base,
        &redirect,
        MemoryVault::new(),
        MemoryStore::new(),
    );
    let router: Router = oauth.router().layer(middleware::from_fn(signed_in));
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let app = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    Some(Fixture {
        op,
        base,
        redirect,
        oauth,
        app,
        server,
    })
}

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("a Location")
        .to_owned()
}

/// The user at the provider, in their own browser: signs in as `login`, then consents (or
/// declines). Returns the callback URL the provider sends the browser back to.
async fn at_provider(f: &Fixture, authorize: &str, login: &str, what: Decision) -> String {
    oidc::at_provider(authorize, &f.redirect, login, what).await
}

/// Opens the pending's URL as `who` (the owner check), follows it to the provider.
async fn open_as(f: &Fixture, pending_url: &str, who: &str) -> reqwest::Response {
    f.app
        .get(pending_url)
        .header("x-user", who)
        .send()
        .await
        .expect("pending url")
}

async fn callback_as(f: &Fixture, callback: &str, who: Option<&str>) -> reqwest::Response {
    let mut req = f.app.get(callback);
    if let Some(who) = who {
        req = req.header("x-user", who);
    }
    req.send().await.expect("callback")
}

fn consent_required(r: Result<oob::oauth::AccessToken, OAuthError>) -> Pending<Consent, Open> {
    match r {
        Err(OAuthError::ConsentRequired(p)) => *p,
        other => panic!("expected ConsentRequired, got {other:?}"),
    }
}

/// The whole consent as alice: access token asked, URL opened, provider, callback.
async fn connect(f: &Fixture, who: &str) -> Pending<Consent, Open> {
    let cx = user(who);
    let pending = consent_required(f.oauth.access_token(&cx).await);
    let res = open_as(f, &pending.callback_url(), who).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let authorize = location(&res);
    assert!(
        authorize.contains("code_challenge_method=S256"),
        "{authorize}"
    );
    assert!(
        authorize.contains(&format!("state={}.", pending.id())),
        "{authorize}"
    );
    let callback = at_provider(f, &authorize, who, Decision::Consent).await;
    let res = callback_as(f, &callback, Some(who)).await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap_or_default()
    );
    pending
}

async fn userinfo_sub(f: &Fixture, access: &str) -> Option<String> {
    let res = f
        .app
        .get(f.op.userinfo_url())
        .bearer_auth(access)
        .send()
        .await
        .expect("userinfo");
    if !res.status().is_success() {
        return None;
    }
    let v: serde_json::Value = res.json().await.expect("json");
    v["sub"].as_str().map(str::to_owned)
}

async fn stored(f: &Fixture, who: &str) -> Option<TokenSet> {
    let cx = user(who);
    let t = f.oauth.manager().caller(&cx).expect("caller");
    let key = f.oauth.provider().vault_key();
    f.oauth.vault().get(&t, &key).await.expect("vault")
}

fn vault_of(f: &Fixture) -> MemoryVault<TokenSet> {
    f.oauth.vault().clone()
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_signed_out_users_forged_and_replayed_callbacks_get_nothing() {
    let Some(f) = fixture(Duration::from_secs(60)).await else {
        return;
    };
    let alice = user("alice");
    let pending = consent_required(f.oauth.access_token(&alice).await);
    let url = pending.callback_url();

    // Bob opening alice's link is refused before anything else: no redirect to the provider.
    let res = open_as(&f, &url, "bob").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get(header::LOCATION).is_none());
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    // Signed out: asked to sign in, nothing revealed.
    let res = f.app.get(&url).send().await.expect("get");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Alice goes to the provider; bob's browser brings her callback back (a phished code).
    let res = open_as(&f, &url, "alice").await;
    let callback = at_provider(&f, &location(&res), "alice", Decision::Consent).await;
    assert_eq!(
        callback_as(&f, &callback, Some("bob")).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        callback_as(&f, &callback, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(matches!(
        f.oauth.manager().get(pending.id()).await,
        Ok(AnyPending::Open(_))
    ));
    assert!(stored(&f, "bob").await.is_none());

    // A forged state: malformed, or an id nobody created.
    let forged = format!("{}?code=x&state=not-an-id", f.redirect);
    assert_eq!(
        callback_as(&f, &forged, Some("alice")).await.status(),
        StatusCode::BAD_REQUEST
    );
    let unknown = format!("{}?code=x&state={}.x", f.redirect, oob::PendingId::random());
    assert_eq!(
        callback_as(&f, &unknown, Some("alice")).await.status(),
        StatusCode::NOT_FOUND
    );

    // Alice's own callback completes it; a replay is answered without a second exchange.
    assert_eq!(
        callback_as(&f, &callback, Some("alice")).await.status(),
        StatusCode::OK
    );
    let version = {
        let t = f.oauth.manager().caller(&alice).expect("caller");
        vault_of(&f)
            .read(&t, &f.oauth.provider().vault_key())
            .await
            .expect("read")
            .expect("stored")
            .version()
    };
    let replay = callback_as(&f, &callback, Some("alice")).await;
    assert_eq!(replay.status(), StatusCode::OK);
    let t = f.oauth.manager().caller(&alice).expect("caller");
    let after = vault_of(&f)
        .read(&t, &f.oauth.provider().vault_key())
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        after.version(),
        version,
        "a replayed callback writes nothing"
    );
    // Bob replaying it after completion learns nothing either.
    assert_eq!(
        callback_as(&f, &callback, Some("bob")).await.status(),
        StatusCode::FORBIDDEN
    );

    // A code the provider rejects (reused at a new consent) is a 4xx with a way to retry.
    let again = f.oauth.start(&user("carol")).await.expect("carol");
    let state = reqwest::Url::parse(&f.oauth.authorization_url(&again))
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    let bad = format!("{}?code=bogus-code&state={state}", f.redirect);
    let res = callback_as(&f, &bad, Some("carol")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.expect("page").contains("Start again"));
    assert!(matches!(
        f.oauth.manager().get(again.id()).await,
        Ok(AnyPending::Open(_))
    ));
}

/// A token endpoint whose answer does not parse (here `expires_in` is a string) must not
/// put the body, which holds fresh tokens, into the error's `Debug` or the service's log.
#[tokio::test(flavor = "current_thread")]
async fn an_unparsable_token_answer_keeps_its_tokens_out_of_errors_and_logs() {
    use axum::routing::post;
    use std::sync::{Arc, Mutex};

    // A fake token endpoint: a good answer to the code (a token expired at once: a refresh
    // of one still valid that fails serves it), an unparsable one to the refresh.
    let token = Router::new().route(
        "/token",
        post(|body: String| async move {
            let json = if body.contains("grant_type=authorization_code") {
                r#"{"access_token":"A1","token_type":"bearer","expires_in":0,"refresh_token":"R1"}"#
            } else {
                r#"{"access_token":"LEAKED-ACCESS","token_type":"bearer","expires_in":"3600","refresh_token":"LEAKED-REFRESH"}"#
            };
            ([(header::CONTENT_TYPE, "application/json")], json)
        }),
    );
    let mut op = FakeProvider::start(token).await;
    let oauth = op.flow(MemoryVault::new());
    op.serve_callback(&oauth);

    // Everything the service logs, captured.
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Log {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    op.consent(&oauth, "alice").await;
    let alice = user("alice");
    // The access token has expired: the refresh meets the unparsable answer.
    let err = oauth
        .access_token(&alice)
        .await
        .expect_err("unparsable refresh");
    let shown = format!("{err:?} {err}");
    assert!(matches!(err, OAuthError::Provider(_)), "{shown}");
    // As text, or as the bytes of a kept body (`[76, 69, 65, 75, 69, 68, ...]`).
    let leaked = |s: &str| s.contains("LEAKED") || s.contains("76, 69, 65, 75, 69, 68");
    assert!(!leaked(&shown), "{shown}");
    let logged =
        String::from_utf8_lossy(&log.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    assert!(!leaked(&logged), "{logged}");
}
