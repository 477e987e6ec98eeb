//! The optional identity check over real HTTP: a service that signs its users in on the web
//! refuses (403) a callback opened by nobody or by another user, and completes it for the
//! owner.

mod http_support;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn};
use axum::response::Response;
use axum::routing::get;
use http_support::{AppState, assert_interaction_headers, client, serve, start};
use oob::PendingId;
use oob::http::{InteractionRejection, RejectionKind, SessionInteraction, interaction_headers};
use oob::provider::VerifiedSubject;
use oob_tests::{DeviceCode, ns, spec, user};

/// Stand-in for the service's own session middleware: a signed-in user, from a header
/// that a real service would derive from its session cookie.
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

async fn page(ix: SessionInteraction<DeviceCode>) -> String {
    format!("yours: {}", ix.id())
}

/// Completes only in the signed-in user's namespace, atomically (`complete_in`).
async fn confirm(
    State(state): State<AppState>,
    ix: SessionInteraction<DeviceCode>,
) -> Result<&'static str, InteractionRejection> {
    let user = ix.namespace().clone();
    state.oob.complete_in(ix.into_pending().id(), &user).await?;
    Ok("confirmed")
}

#[tokio::test]
async fn only_the_owner_passes() {
    let (state, _clock, _store, _) = start().await;
    let app = Router::new()
        .route("/oob/cb/{id}", get(page).post(confirm))
        .layer(from_fn(session))
        .layer(interaction_headers())
        .with_state(state.clone());
    let base = serve(app).await;
    let c = client();
    let open = state.oob.create(&user("alice"), spec()).await.unwrap();
    let url = format!("{base}/oob/cb/{}", open.id());

    let res = c.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 403, "nobody signed in");
    assert_interaction_headers(&res, "403 no identity");
    assert_eq!(
        res.text().await.unwrap(),
        RejectionKind::NoIdentity.message()
    );

    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let res = c
            .request(method.clone(), &url)
            .header("x-test-session", "mallory")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{method} by another user");
        assert_interaction_headers(&res, "403 wrong user");
        let body = res.text().await.unwrap();
        assert!(!body.contains("alice") && !body.contains("mallory"));
    }
    // Still open after the refusals.
    assert!(state.oob.open(open.id()).await.is_ok());

    let res = c
        .get(&url)
        .header("x-test-session", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_interaction_headers(&res, "owner GET");
    let res = c
        .post(&url)
        .header("x-test-session", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "confirmed");

    // Other refusals keep their own status for a signed-in user.
    for (path, status) in [
        (format!("/oob/cb/{}", open.id()), 410),
        (format!("/oob/cb/{}", PendingId::random()), 404),
        ("/oob/cb/nope".into(), 400),
    ] {
        let res = c
            .get(format!("{base}{path}"))
            .header("x-test-session", "alice")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{path}");
    }
}

#[tokio::test]
async fn check_user_on_the_plain_extractor() {
    let (state, _clock, _store, _) = start().await;
    let open = state.oob.create(&user("alice"), spec()).await.unwrap();
    // Drive the extractor in process to get an `Interaction` value.
    let (mut parts, ()) = axum::http::Request::get(format!("/oob/cb/{}", open.id()))
        .body(())
        .unwrap()
        .into_parts();
    let ix = <oob::http::Interaction<DeviceCode> as axum::extract::FromRequestParts<
        AppState,
    >>::from_request_parts(&mut parts, &state)
    .await
    .unwrap();
    assert!(ix.check_user(&ns("alice")).is_ok());
    assert_eq!(
        ix.check_user(&ns("bob")).unwrap_err().kind(),
        RejectionKind::WrongUser
    );
}
