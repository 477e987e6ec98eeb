//! `InteractionLayer` over real HTTP: in front of axum routes (`route_layer`) and of a plain
//! tower service, the pending and its namespace in the request extensions, and the
//! `InteractionContext` extractor reading them back.

mod http_support;

use std::convert::Infallible;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use http_support::{AppState, assert_interaction_headers, client, serve, start};
use oob::http::{InteractionContext, InteractionLayer, UncheckedInteraction, interaction_headers};
use oob::{PendingId, Spec};
use oob_tests::{DeviceCode, spec, user};

/// Reads the context back and completes its pending.
async fn via_context(
    State(state): State<AppState>,
    cx: InteractionContext<DeviceCode>,
) -> Result<String, oob::http::InteractionRejection> {
    let ns = cx.namespace().as_str().len();
    let pending = cx
        .take_pending()
        .ok_or(oob::http::RejectionKind::Misconfigured)?;
    state.oob.complete(pending).await?;
    Ok(format!("completed; namespace length {ns}"))
}

/// The signed-in user, from an `x-user` header (the service's authentication).
async fn signed_in(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if let Some(who) = req.headers().get("x-user").and_then(|v| v.to_str().ok()) {
        let who = user(who);
        req.extensions_mut().insert(who);
    }
    next.run(req).await
}

/// The ordinary extractor behind the layer takes the loaded pending (no second lookup).
async fn via_extractor(ix: UncheckedInteraction<DeviceCode>) -> String {
    format!("open {}", ix.id())
}

#[tokio::test]
async fn route_layer_puts_the_pending_and_namespace_in_extensions() {
    let (state, _clock, store, _) = start().await;
    let app = Router::new()
        .route("/oob/cb/{id}", get(via_context))
        .route("/oob/peek/{id}", get(via_extractor))
        .route_layer(InteractionLayer::unchecked(state.oob.clone()))
        .layer(interaction_headers())
        .with_state(state.clone());
    let base = serve(app).await;
    let c = client();
    let open = state.oob.create(&user("alice"), spec()).await.unwrap();
    let id = open.id();

    let before = store.over.gets.load(Ordering::SeqCst);
    let res = c.get(format!("{base}/oob/peek/{id}")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), format!("open {id}"));
    assert_eq!(
        store.over.gets.load(Ordering::SeqCst) - before,
        1,
        "the extractor reused the layer's pending"
    );

    let res = c.get(format!("{base}/oob/cb/{id}")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_interaction_headers(&res, "layer 200");
    assert_eq!(
        res.text().await.unwrap(),
        format!("completed; namespace length {}", "alice".len())
    );
    assert!(matches!(
        state.oob.get(id).await.unwrap(),
        oob::AnyPending::Completed(_)
    ));

    for (path, status) in [
        (format!("/oob/cb/{id}"), 200),
        (format!("/oob/cb/{}", PendingId::random()), 404),
        ("/oob/cb/..%2F..%2Fetc".into(), 400),
        ("/oob/cb/%FF".into(), 400),
    ] {
        let res = c.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(res.status(), status, "{path}");
        assert_interaction_headers(&res, "layer rejection");
    }
}

#[tokio::test]
async fn the_layer_serves_any_tower_service() {
    let (state, _clock, _store, _) = start().await;
    // A plain tower service, no axum routing: the layer finds the id in the path itself.
    let svc = tower::service_fn(|req: axum::http::Request<Body>| async move {
        let cx = req
            .extensions()
            .get::<InteractionContext<DeviceCode>>()
            .cloned();
        let body = match cx {
            Some(cx) => {
                let pending = cx.take_pending();
                format!(
                    "id={} ns-bytes={} has-pending={} again={}",
                    cx.id(),
                    cx.namespace().as_str().len(),
                    pending.is_some(),
                    cx.take_pending().is_some()
                )
            }
            None => "no context".into(),
        };
        Ok::<_, Infallible>(axum::http::Response::new(Body::from(body)))
    });
    let layered = tower::Layer::layer(&InteractionLayer::unchecked(state.oob.interactions()), svc);
    let base = serve(Router::new().fallback_service(layered)).await;
    let c = client();
    let open = state.oob.create(&user("bob"), spec()).await.unwrap();
    let id = open.id();
    let res = c.get(format!("{base}/oob/cb/{id}")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // The inner service's page carries the interaction headers too (no header layer here).
    assert_interaction_headers(&res, "the inner service's page");
    assert_eq!(
        res.text().await.unwrap(),
        format!("id={id} ns-bytes=3 has-pending=true again=false")
    );
    for (path, status) in [
        ("/elsewhere".to_string(), 400),
        ("/oob/cb/".into(), 400),
        ("/oob/cb/a/b".into(), 400),
        ("/oob/cb/%2e%2e%2F%2e%2e%2Fetc".into(), 400),
        (format!("/oob/cb/{}", PendingId::random()), 404),
    ] {
        let res = c.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(res.status(), status, "{path}");
        assert_interaction_headers(&res, "plain service rejection");
    }
    state
        .oob
        .cancel(state.oob.open(id).await.unwrap())
        .await
        .unwrap();
    let res = c.get(format!("{base}/oob/cb/{id}")).send().await.unwrap();
    assert_eq!(res.status(), 410);
}

#[tokio::test]
async fn the_context_extractor_without_the_layer_is_a_generic_500() {
    let (state, _clock, _store, _) = start().await;
    let app = Router::new()
        .route("/oob/cb/{id}", get(via_context))
        .with_state(state.clone());
    let base = serve(app).await;
    let open = state
        .oob
        .create(&user("alice"), Spec::new(oob_tests::device_code()))
        .await
        .unwrap();
    let res = client()
        .get(format!("{base}/oob/cb/{}", open.id()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 500);
    assert_interaction_headers(&res, "misconfigured");
    assert_eq!(
        res.text().await.unwrap(),
        oob::http::RejectionKind::Misconfigured.page()
    );
    // Nothing happened to the pending.
    assert!(state.oob.open(open.id()).await.is_ok());
}

/// The checked layer: the browser user (here a `VerifiedSubject` an auth middleware put in
/// the extensions) must own the pending before the route runs; anyone else gets the same
/// 403 whatever the pending's state.
#[tokio::test]
async fn the_checked_layer_lets_only_the_owner_through() {
    use axum::middleware;
    use oob::http::ExtensionUser;

    let (state, _clock, _store, _) = start().await;
    let app = Router::new()
        .route("/oob/cb/{id}", get(via_context))
        .route_layer(InteractionLayer::new(state.oob.clone(), ExtensionUser))
        .layer(middleware::from_fn(signed_in))
        .layer(interaction_headers())
        .with_state(state.clone());
    let base = serve(app).await;
    let c = client();
    let open = state.oob.create(&user("alice"), spec()).await.unwrap();
    let id = open.id();
    let url = format!("{base}/oob/cb/{id}");

    let res = c.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 403, "signed out");
    let res = c.get(&url).header("x-user", "bob").send().await.unwrap();
    assert_eq!(res.status(), 403, "another user");
    assert!(matches!(
        state.oob.get(id).await.unwrap(),
        oob::AnyPending::Open(_)
    ));
    let res = c.get(&url).header("x-user", "alice").send().await.unwrap();
    assert_eq!(res.status(), 200, "the owner");
    assert!(matches!(
        state.oob.get(id).await.unwrap(),
        oob::AnyPending::Completed(_)
    ));
    // After the end, another user learns nothing new: still the same refusal.
    let res = c.get(&url).header("x-user", "bob").send().await.unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn a_handlers_own_content_security_policy_stays() {
    let (state, _clock, _store, _) = start().await;
    let strict = "default-src 'none'; script-src 'self'";
    let app = Router::new()
        .route(
            "/oob/cb/{id}",
            get(move |_ix: UncheckedInteraction<DeviceCode>| async move {
                ([("content-security-policy", strict)], "form")
            }),
        )
        .layer(interaction_headers())
        .with_state(state.clone());
    let base = serve(app).await;
    let open = state.oob.create(&user("alice"), spec()).await.unwrap();
    let res = client()
        .get(format!("{base}/oob/cb/{}", open.id()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let policies: Vec<_> = res
        .headers()
        .get_all("content-security-policy")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    // Both: a browser enforces each, so the handler's script policy keeps its effect.
    assert_eq!(policies, [strict, "frame-ancestors 'none'"]);
    assert_eq!(res.headers()["x-frame-options"], "DENY");
}

/// A checked extractor checks its own user even behind a layer that checked nobody
/// (`InteractionLayer::unchecked`): the layer's pending is reused, not its trust. (Found
/// by mutation testing, 2026-12-07: that check could go with every test passing.)
#[tokio::test]
async fn a_checked_extractor_behind_an_unchecked_layer_still_checks_the_owner() {
    use axum::middleware;
    use oob::http::{ExtensionUser, Interaction, RejectionKind};

    async fn owned(ix: Interaction<DeviceCode, ExtensionUser>) -> String {
        format!("open {}", ix.id())
    }

    let (state, _clock, _store, _) = start().await;
    let app = Router::new()
        .route("/oob/cb/{id}", get(owned))
        .route_layer(InteractionLayer::unchecked(state.oob.clone()))
        .layer(middleware::from_fn(signed_in))
        .layer(interaction_headers())
        .with_state(state.clone());
    let base = serve(app).await;
    let c = client();
    let open = state.oob.create(&user("alice"), spec()).await.unwrap();
    let url = format!("{base}/oob/cb/{}", open.id());

    let res = c
        .get(&url)
        .header("x-user", "mallory")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "another user behind an unchecked layer");
    assert_eq!(res.text().await.unwrap(), RejectionKind::WrongUser.page());
    let res = c.get(&url).header("x-user", "alice").send().await.unwrap();
    assert_eq!(res.status(), 200, "the owner");
    assert!(matches!(
        state.oob.get(open.id()).await.unwrap(),
        oob::AnyPending::Open(_)
    ));
}
