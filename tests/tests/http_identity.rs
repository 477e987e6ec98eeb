//! The owner check over real HTTP (issue 16): the checked `Interaction<T, U>` refuses a
//! callback opened by nobody ("sign in") or by another user, the same way whatever the
//! pending's state, before anything about it is told; its owner completes it and sees
//! "already done" after; forms are bound to the pending and the session, cross-site posts
//! and framing refused; the same through `tower-sessions`.

mod http_support;

use std::collections::HashMap;

use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use http_support::{AppState, assert_interaction_headers, client, ended_pendings, serve, start};
use oob::PendingId;
use oob::http::{
    AntiForgery, ExtensionUser, Interaction, InteractionRejection, RejectionKind, SessionUser,
    interaction_headers,
};
use oob::provider::VerifiedSubject;
use oob::vault::Vault;
use oob_tests::{DeviceCode, ns, spec, user};

/// Stand-in for the service's own auth layer: a signed-in user, from a header a real service
/// would derive from its session cookie.
async fn session(mut req: Request, next: Next) -> Response {
    let signed_in = req
        .headers()
        .get("x-test-session")
        .and_then(|v| v.to_str().ok())
        .map(ns);
    if let Some(name) = signed_in {
        req.extensions_mut().insert(VerifiedSubject::new(name));
    }
    next.run(req).await
}

#[derive(Clone)]
struct App {
    state: AppState,
    forms: AntiForgery,
}

impl axum::extract::FromRef<App> for AntiForgery {
    fn from_ref(app: &App) -> Self {
        app.forms.clone()
    }
}

impl axum::extract::FromRef<App> for oob::http::Interactions<DeviceCode> {
    fn from_ref(app: &App) -> Self {
        app.state.oob.interactions()
    }
}

type Owned = Interaction<DeviceCode, ExtensionUser>;

async fn page(State(forms): State<AntiForgery>, ix: Owned) -> String {
    forms.token(&ix)
}

async fn submit(
    State(app): State<App>,
    ix: Owned,
    Form(mut f): Form<HashMap<String, String>>,
) -> Result<&'static str, InteractionRejection> {
    app.forms
        .verify(&ix, f.get(AntiForgery::FIELD).map_or("", String::as_str))?;
    let secret = f.remove("secret").unwrap_or_default();
    let vault = app.state.vault.clone();
    app.state
        .oob
        .complete_with(ix.into_pending(), async move |token| {
            vault.put(&token, "secret", secret).await
        })
        .await?;
    Ok("saved")
}

async fn checked_app() -> (AppState, http_support::ShiftClock, String) {
    let (state, clock, _store, _) = start().await;
    let app = App {
        state: state.clone(),
        forms: AntiForgery::generate().unwrap(),
    };
    let router = Router::new()
        .route("/oob/cb/{id}", get(page).post(submit))
        .layer(from_fn(session))
        .layer(interaction_headers())
        .with_state(app);
    (state, clock, serve(router).await)
}

async fn get_as(url: &str, who: Option<&str>) -> reqwest::Response {
    let mut req = client().get(url);
    if let Some(who) = who {
        req = req.header("x-test-session", who);
    }
    req.send().await.unwrap()
}

async fn post_as(url: &str, who: &str, body: String) -> reqwest::Response {
    client()
        .post(url)
        .header("x-test-session", who)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Point 1: nobody and another user are refused, the owner's pending stays open and its
/// values land only under the owner, after the owner's own submit.
#[tokio::test]
async fn the_checked_extractor_refuses_all_but_the_owner() {
    let (state, _clock, base) = checked_app().await;
    let open = state.oob.create(&user("alice"), spec()).await.unwrap();
    let url = format!("{base}/oob/cb/{}", open.id());

    let res = get_as(&url, None).await;
    assert_eq!(res.status(), 403, "nobody signed in");
    assert_interaction_headers(&res, "403 no identity");
    assert_eq!(res.text().await.unwrap(), RejectionKind::NoIdentity.page());
    let res = client()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("secret=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "POST with no identity");

    let res = get_as(&url, Some("mallory")).await;
    assert_eq!(res.status(), 403);
    let body = res.text().await.unwrap();
    assert_eq!(body, RejectionKind::WrongUser.page());
    assert_ne!(
        body,
        RejectionKind::NoIdentity.page(),
        "signed out != other user"
    );
    assert!(!body.contains("alice") && !body.contains("mallory"));
    // Mallory's own token for alice's pending cannot exist: her GET was refused. A POST
    // with any token is refused before the token is even looked at.
    let res = post_as(&url, "mallory", "secret=mallory-value&oob_csrf=x".into()).await;
    assert_eq!(res.status(), 403);
    assert!(state.oob.open(open.id()).await.is_ok(), "still open");
    assert_eq!(state.stored("alice", "secret").await, None);

    let token = get_as(&url, Some("alice")).await.text().await.unwrap();
    let res = post_as(
        &url,
        "alice",
        format!("secret=alice-value&oob_csrf={token}"),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "saved");
    assert_eq!(
        state.stored("alice", "secret").await.as_deref(),
        Some("alice-value")
    );
    assert_eq!(state.stored("mallory", "secret").await, None);
}

/// Point 2: a non-owner gets the same answer whether the pending is open, completed,
/// cancelled, declined or expired.
#[tokio::test]
async fn a_non_owner_learns_nothing_about_the_state() {
    let (state, clock, base) = checked_app().await;
    let alice = user("alice");
    let open = state.oob.create(&alice, spec()).await.unwrap();
    let completed = state.oob.create(&alice, spec()).await.unwrap();
    let completed_id = completed.id();
    state.oob.complete(completed).await.unwrap();
    let [cancelled, declined, expired] = ended_pendings(&state.oob, &alice, &clock).await;

    let mut answers = Vec::new();
    for id in [open.id(), completed_id, cancelled, declined, expired] {
        let url = format!("{base}/oob/cb/{id}");
        for res in [
            get_as(&url, Some("mallory")).await,
            post_as(&url, "mallory", "secret=x".into()).await,
        ] {
            let status = res.status();
            answers.push((status, res.text().await.unwrap()));
        }
    }
    let first = answers[0].clone();
    assert_eq!(first.0, 403);
    assert!(answers.iter().all(|a| *a == first), "{answers:?}");
    // The owner, meanwhile, is told the truth.
    let res = get_as(&format!("{base}/oob/cb/{completed_id}"), Some("alice")).await;
    assert_eq!(res.status(), 200, "already done is a success");
    assert_eq!(res.text().await.unwrap(), RejectionKind::Completed.page());
    let res = get_as(&format!("{base}/oob/cb/{cancelled}"), Some("alice")).await;
    assert_eq!(res.status(), 410);
    let res = get_as(
        &format!("{base}/oob/cb/{}", PendingId::random()),
        Some("alice"),
    )
    .await;
    assert_eq!(res.status(), 404);
    let res = get_as(&format!("{base}/oob/cb/nope"), Some("alice")).await;
    assert_eq!(res.status(), 400);
}

/// Point 3: frame-ancestors and X-Frame-Options on pages and refusals; cross-site posts and
/// forged or foreign tokens refused, the pending intact.
#[tokio::test]
async fn framing_cross_site_posts_and_forged_tokens_are_refused() {
    let (state, _clock, base) = checked_app().await;
    let open = state.oob.create(&user("alice"), spec()).await.unwrap();
    let other = state.oob.create(&user("alice"), spec()).await.unwrap();
    let url = format!("{base}/oob/cb/{}", open.id());
    let other_url = format!("{base}/oob/cb/{}", other.id());

    for res in [get_as(&url, Some("alice")).await, get_as(&url, None).await] {
        let h = res.headers();
        assert_eq!(h["content-security-policy"], "frame-ancestors 'none'");
        assert_eq!(h["x-frame-options"], "DENY");
    }
    let token = get_as(&url, Some("alice")).await.text().await.unwrap();
    let other_token = get_as(&other_url, Some("alice"))
        .await
        .text()
        .await
        .unwrap();

    let host = base.trim_start_matches("http://");
    for (header, value) in [
        ("sec-fetch-site", "cross-site"),
        ("sec-fetch-site", "same-site"),
        ("origin", "https://evil.example"),
        ("origin", "null"),
        ("origin", &format!("ftp://{host}")),
        ("origin", &format!("x://{host}")),
        ("origin", host),
    ] {
        let res = client()
            .post(&url)
            .header("x-test-session", "alice")
            .header(header, value)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("secret=csrf&oob_csrf={token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{header}: {value}");
        assert_eq!(res.text().await.unwrap(), RejectionKind::CrossSite.page());
    }
    for bad in [String::new(), other_token, "AAAA".into(), "%%%".into()] {
        let res = post_as(&url, "alice", format!("secret=forged&oob_csrf={bad}")).await;
        assert_eq!(res.status(), 403, "token {bad:?}");
        assert_eq!(res.text().await.unwrap(), RejectionKind::Forged.page());
    }
    assert!(state.oob.open(open.id()).await.is_ok(), "still open");
    assert_eq!(state.stored("alice", "secret").await, None);

    // Same-origin browser posts pass.
    let res = client()
        .post(&url)
        .header("x-test-session", "alice")
        .header("sec-fetch-site", "same-origin")
        .header("origin", format!("http://{host}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("secret=ok&oob_csrf={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // A resubmit by the owner: "already done", a success, nothing overwritten.
    let res = post_as(&url, "alice", format!("secret=again&oob_csrf={token}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), RejectionKind::Completed.page());
    assert_eq!(state.stored("alice", "secret").await.as_deref(), Some("ok"));
}

/// The `tower-sessions` path: the namespace stored at sign-in identifies the browser user;
/// tokens are bound to the session.
#[tokio::test]
async fn tower_sessions_identify_the_browser_user() {
    use tower_sessions::{MemoryStore, Session, SessionManagerLayer};

    async fn login(session: Session, Form(f): Form<HashMap<String, String>>) -> &'static str {
        SessionUser::sign_in(&session, &ns(&f["user"]))
            .await
            .unwrap();
        "signed in"
    }
    async fn sess_page(
        State(forms): State<AntiForgery>,
        ix: Interaction<DeviceCode, SessionUser>,
    ) -> String {
        forms.token(&ix)
    }

    let (state, _clock, _store, _) = start().await;
    let app = App {
        state: state.clone(),
        forms: AntiForgery::generate().unwrap(),
    };
    let router = Router::new()
        .route("/login", post(login))
        .route("/oob/cb/{id}", get(sess_page))
        .layer(SessionManagerLayer::new(MemoryStore::default()).with_secure(false))
        .layer(interaction_headers())
        .with_state(app);
    let base = serve(router).await;
    let open = state.oob.create(&user("alice"), spec()).await.unwrap();
    let url = format!("{base}/oob/cb/{}", open.id());

    let cookie_of = |who: &'static str| {
        let base = base.clone();
        async move {
            let res = client()
                .post(format!("{base}/login"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("user={who}"))
                .send()
                .await
                .unwrap();
            let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
            cookie.split(';').next().unwrap().to_owned()
        }
    };
    let alice = cookie_of("alice").await;
    let alice_again = cookie_of("alice").await;
    let mallory = cookie_of("mallory").await;

    assert_eq!(client().get(&url).send().await.unwrap().status(), 403);
    let res = client()
        .get(&url)
        .header("cookie", &mallory)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(res.text().await.unwrap(), RejectionKind::WrongUser.page());
    let res = client()
        .get(&url)
        .header("cookie", &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let t1 = res.text().await.unwrap();
    let res = client()
        .get(&url)
        .header("cookie", &alice_again)
        .send()
        .await
        .unwrap();
    let t2 = res.text().await.unwrap();
    assert_ne!(t1, t2, "tokens are bound to the session, not only the user");
}
