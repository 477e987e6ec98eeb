//! Several providers in one service: `OAuth::router_all` serves the one consent URL every
//! provider's consents share, handing each consent to its own provider's flow, and each
//! provider's callback; two `router()`s could not be merged (the same route twice).

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use oob::oauth::{Consent, OAuth, OAuthError, TokenSet};
use oob::provider::FromVerifiedSubject;
use oob::store::MemoryStore;
use oob::vault::MemoryVault;
use oob_tests::user;
use tower::ServiceExt as _;

mod oauth_support;
use oauth_support::{FakeProvider, echo_token_endpoint, state_of};

type Flow = OAuth<MemoryStore<Consent>, FromVerifiedSubject, MemoryVault<TokenSet>>;

/// Two providers, `github` and `google`, each with its own callback; one consent store.
fn flows(fake: &FakeProvider, vault: &MemoryVault<TokenSet>) -> (Flow, Flow) {
    let store = MemoryStore::new();
    let at = |name: &str| {
        let redirect = format!("{}/{name}/callback", fake.base);
        fake.flow_at(
            name,
            store.clone(),
            vault.clone(),
            Duration::ZERO,
            &redirect,
        )
    };
    (at("github"), at("google"))
}

async fn get(router: &Router, uri: &str, who: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::get(uri).body(Body::empty()).expect("request");
    if let Some(who) = who {
        req.extensions_mut().insert(user(who));
    }
    let res = router.clone().oneshot(req).await.expect("response");
    let location = res
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (res.status(), location)
}

async fn consent(f: &Flow, who: &str) -> oob::Pending<Consent, oob::state::Open> {
    match f.access_token(&user(who)).await {
        Err(OAuthError::ConsentRequired(p)) => *p,
        other => panic!("expected a consent, got {other:?}"),
    }
}

fn path(url: &str) -> String {
    reqwest::Url::parse(url).expect("url").path().to_owned()
}

/// Each consent goes to its own provider and comes back through its own callback; the
/// other checks (owner, unknown link) hold as on one provider's router.
#[tokio::test]
async fn one_router_serves_every_providers_consents() {
    let fake = FakeProvider::start(echo_token_endpoint()).await;
    let vault = MemoryVault::new();
    let (github, google) = flows(&fake, &vault);
    let router: Router = OAuth::router_all([github.clone(), google.clone()]);

    for (flow, name) in [(&google, "google"), (&github, "github")] {
        let p = consent(flow, "alice").await;
        let (status, to) = get(&router, &path(&p.callback_url()), Some("alice")).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{name}");
        assert!(
            to.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A"),
            "{to}"
        );
        assert!(
            to.contains(&format!("%2F{name}%2Fcallback")),
            "{name}: {to}"
        );
        // Not the owner, signed out: refused as on one provider's router.
        assert_eq!(
            get(&router, &path(&p.callback_url()), Some("bob")).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            get(&router, &path(&p.callback_url()), None).await.0,
            StatusCode::UNAUTHORIZED
        );
        let back = format!(
            "/{name}/callback?code={name}-code&state={}",
            state_of(flow, &p)
        );
        assert_eq!(
            get(&router, &back, Some("alice")).await.0,
            StatusCode::OK,
            "{name}"
        );
        let token = flow.access_token(&user("alice")).await.expect(name);
        assert_eq!(token.secret(), format!("tok-{name}-code"));
    }
    let unknown = format!("/oob/oauth/{}", oob::PendingId::random());
    assert_eq!(
        get(&router, &unknown, Some("alice")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&router, "/oob/oauth/nope", Some("alice")).await.0,
        StatusCode::BAD_REQUEST
    );
}

/// A consent brought back through the other provider's callback is not exchanged there.
#[tokio::test]
async fn a_consent_comes_back_only_through_its_own_providers_callback() {
    let fake = FakeProvider::start(echo_token_endpoint()).await;
    let vault = MemoryVault::new();
    let (github, google) = flows(&fake, &vault);
    let router: Router = OAuth::router_all([github.clone(), google.clone()]);
    let p = consent(&github, "alice").await;
    let wrong = format!("/google/callback?code=x&state={}", state_of(&github, &p));
    assert_eq!(
        get(&router, &wrong, Some("alice")).await.0,
        StatusCode::NOT_FOUND
    );
    assert!(matches!(
        google.access_token(&user("alice")).await,
        Err(OAuthError::ConsentRequired(_))
    ));
}

/// Two providers on one redirect path is a configuration error, said when the router is
/// built.
#[tokio::test]
#[should_panic(expected = "share the redirect path")]
async fn two_providers_on_one_callback_path_are_refused() {
    let fake = FakeProvider::start(echo_token_endpoint()).await;
    let vault = MemoryVault::new();
    let store = MemoryStore::new();
    let a = fake.flow_with("a", store.clone(), vault.clone(), Duration::ZERO);
    let b = fake.flow_with("b", store, vault, Duration::ZERO);
    let _: Router = OAuth::router_all([a, b]);
}

/// Two providers with one name (a consent names its provider) are refused when the router
/// is built, as two on one redirect path are.
#[tokio::test]
#[should_panic(expected = "share the name")]
async fn two_providers_with_one_name_are_refused() {
    let fake = FakeProvider::start(echo_token_endpoint()).await;
    let (vault, store) = (MemoryVault::new(), MemoryStore::new());
    let at = |path: &str| {
        let redirect = format!("{}/{path}/callback", fake.base);
        fake.flow_at(
            "github",
            store.clone(),
            vault.clone(),
            Duration::ZERO,
            &redirect,
        )
    };
    let _: Router = OAuth::router_all([at("one"), at("two")]);
}

/// A consent store that fails every read while `down` is set.
#[derive(Clone, Default)]
struct Down(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl oob_tests::delegate::Overrides<Consent, MemoryStore<Consent>> for Down {
    async fn get(
        &self,
        inner: &MemoryStore<Consent>,
        id: oob::PendingId,
        now: oob::time::Timestamp,
    ) -> Result<Option<oob::store::Record<Consent>>, oob::store::StoreError> {
        if self.0.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(oob::store::StoreError::backend(std::io::Error::other(
                "down",
            )));
        }
        oob::store::Store::get(inner, id, now).await
    }
}

/// Flows on separate consent stores, the first one's down: a consent held by the second is
/// still served (the first store's failure is the answer only when no flow knows the link).
#[tokio::test]
async fn a_failing_store_of_one_flow_does_not_hide_another_flows_consent() {
    let fake = FakeProvider::start(echo_token_endpoint()).await;
    let vault = MemoryVault::new();
    let (first, second) = (Down::default(), Down::default());
    let at = |name: &str, down: &Down| {
        let store = oob_tests::delegate::Delegate::new(MemoryStore::new(), down.clone());
        let redirect = format!("{}/{name}/callback", fake.base);
        fake.flow_at(name, store, vault.clone(), Duration::ZERO, &redirect)
    };
    let (github, google) = (at("github", &first), at("google", &second));
    let router: Router = OAuth::router_all([github, google.clone()]);
    let p = match google.access_token(&user("alice")).await {
        Err(OAuthError::ConsentRequired(p)) => *p,
        other => panic!("expected a consent, got {other:?}"),
    };
    first.0.store(true, std::sync::atomic::Ordering::SeqCst);
    let (status, to) = get(&router, &path(&p.callback_url()), Some("alice")).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "google's consent is served");
    assert!(to.contains("%2Fgoogle%2Fcallback"), "{to}");
    let unknown = format!("/oob/oauth/{}", oob::PendingId::random());
    assert_eq!(
        get(&router, &unknown, Some("alice")).await.0,
        StatusCode::INTERNAL_SERVER_ERROR,
        "nobody knows it and one store is down: the failure is the answer"
    );
}
