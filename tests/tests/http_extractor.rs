//! The `Interaction` extractor over real HTTP on 127.0.0.1: every status, every header on
//! success and on rejection, the bad-id matrix, path and query ids, 405, and a customized
//! rejection.

mod http_support;

use std::time::Duration;

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_support::{
    AppState, INTERNAL_DETAIL, Oob, assert_interaction_headers, bare_routes, client,
    ended_pendings, serve, start,
};
use oob::http::{InteractionRejection, RejectionKind, UncheckedInteraction, route_path};
use oob::vault::Vault;
use oob::{OobPayload, Outcome, PendingId, Spec};
use oob_tests::{spec, user};

/// A payload whose callback carries the id in the query.
#[derive(Debug, Clone, OobPayload)]
#[oob(kind = "query_code", route = "/oob?id={id}")]
struct QueryCode {
    code: String,
}

#[tokio::test]
async fn form_then_submit_completes_once_and_persists_before_the_tool_call_wakes() {
    let (state, _clock, _store, base) = start().await;
    let alice = user("alice");
    let open = state.oob.create(&alice, spec()).await.unwrap();
    let id = open.id();
    let waiter = tokio::spawn({
        let (oob, vault) = (state.oob.clone(), state.vault.clone());
        async move {
            match oob.wait(id, Duration::from_secs(60)).await.unwrap() {
                // Woken only after the handler persisted: the secret is there.
                // The tool call reads with its own verified caller's capability.
                Outcome::Completed(done) => {
                    assert_eq!(done.namespace(), &oob_tests::ns("alice"));
                    let caller = user("alice");
                    let token = oob.caller(&caller).unwrap();
                    vault.get(&token, "secret").await.unwrap()
                }
                other => panic!("unexpected outcome {other:?}"),
            }
        }
    });
    let url = format!("{base}/oob/cb/{id}");
    let c = client();

    let res = c.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_interaction_headers(&res, "GET 200");
    assert!(res.text().await.unwrap().contains(&id.to_string()));

    let res = c
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("secret=s3cret-value")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_interaction_headers(&res, "POST 200");
    assert_eq!(res.text().await.unwrap(), "saved");

    assert_eq!(waiter.await.unwrap().as_deref(), Some("s3cret-value"));
    assert_eq!(state.stored("bob", "secret").await, None);

    // Completed: "already done" (200) on both methods, headers still set, a fixed page.
    for res in [
        c.get(&url).send().await.unwrap(),
        c.post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("secret=again")
            .send()
            .await
            .unwrap(),
    ] {
        assert_eq!(res.status(), 200);
        assert_interaction_headers(&res, "200 already done");
        assert_eq!(res.text().await.unwrap(), RejectionKind::Completed.page());
    }
}

#[tokio::test]
async fn unknown_cancelled_declined_and_expired() {
    let (state, clock, _store, base) = start().await;
    let c = client();
    let alice = user("alice");

    let unknown = PendingId::random();
    let res = c
        .get(format!("{base}/oob/cb/{unknown}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_interaction_headers(&res, "404");
    let body = res.text().await.unwrap();
    assert!(!body.contains(&unknown.to_string()));

    let [cancelled, declined, expired] = ended_pendings(&state.oob, &alice, &clock).await;
    for (id, kind) in [
        (cancelled, RejectionKind::Cancelled),
        (declined, RejectionKind::Declined),
        (expired, RejectionKind::Expired),
    ] {
        let res = c.get(format!("{base}/oob/cb/{id}")).send().await.unwrap();
        assert_eq!(res.status(), 410, "{kind:?}");
        assert_interaction_headers(&res, "410");
        let body = res.text().await.unwrap();
        assert_eq!(body, kind.page());
        // No namespace, payload or id in a rejection.
        for secret in ["alice", "ABCD-1234", "example.com", &id.to_string()] {
            assert!(!body.contains(secret), "{kind:?} body leaks {secret}");
        }
    }
}

#[tokio::test]
async fn malformed_ids_are_400_with_headers() {
    let (_state, _clock, _store, base) = start().await;
    let c = client();
    let id = PendingId::random().to_string();
    let long = "a".repeat(4096);
    let cases: Vec<(&str, String)> = vec![
        ("not an id", "not-an-id".into()),
        ("simple form", id.replace('-', "")),
        ("braced", format!("%7B{id}%7D")),
        ("urn", format!("urn:uuid:{id}")),
        ("one char too long", format!("{id}0")),
        ("one char short", id[1..].to_string()),
        ("over-long", long),
        (
            "dot-dot-slash",
            "..%2F..%2F..%2F..%2Fetc%2Fpasswd%2F0".into(),
        ),
        ("dot-dot-slash short", "..%2F".into()),
        ("percent garbage", "%ZZ%ZZ%ZZ".into()),
        ("invalid utf-8", "%FF%FE%FD".into()),
        ("encoded space prefix", format!("%20{}", &id[1..])),
        ("right-to-left override", format!("%E2%80%AE{}", &id[3..])),
        ("v7 uuid", "017f22e2-79b0-7cc3-98c4-dc0c0c07398f".into()),
        ("nil uuid", "00000000-0000-0000-0000-000000000000".into()),
        ("non-hex", "67e55044-10b1-426f-9247-bb680e5fe0cg".into()),
    ];
    for (what, bad) in &cases {
        let res = c.get(format!("{base}/oob/cb/{bad}")).send().await.unwrap();
        assert_eq!(res.status(), 400, "{what}: {bad}");
        assert_interaction_headers(&res, what);
        assert_eq!(
            res.text().await.unwrap(),
            RejectionKind::MalformedId.page(),
            "{what}"
        );
        let res = c
            .post(format!("{base}/oob/cb/{bad}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("secret=x")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "POST {what}: {bad}");
    }
    // An empty id matches no path route: the router's 404, still with the headers.
    let res = c.get(format!("{base}/oob/cb/")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    assert_interaction_headers(&res, "empty path id");
}

#[tokio::test]
async fn unrouted_methods_are_405_with_headers() {
    let (state, _clock, _store, base) = start().await;
    let open = state.oob.create(&user("alice"), spec()).await.unwrap();
    let c = client();
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
    ] {
        let res = c
            .request(method.clone(), format!("{base}/oob/cb/{}", open.id()))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 405, "{method}");
        assert_interaction_headers(&res, "405");
    }
    // The pending is untouched.
    assert!(state.oob.open(open.id()).await.is_ok());
}

#[tokio::test]
async fn rejections_set_the_headers_without_the_layer() {
    let (state, _clock, _store, _) = start().await;
    let base = serve(bare_routes(state)).await;
    let c = client();
    for (path, status) in [
        ("/oob/cb/nope".to_string(), 400),
        (format!("/oob/cb/{}", PendingId::random()), 404),
    ] {
        let res = c.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(res.status(), status);
        assert_interaction_headers(&res, "rejection without layer");
        assert_eq!(
            res.headers()["content-type"].as_bytes(),
            b"text/html; charset=utf-8"
        );
    }
}

type QueryOob =
    oob::Manager<QueryCode, oob::store::MemoryStore<QueryCode>, oob::provider::FromVerifiedSubject>;

/// Explicit manager type as the source; the state is the manager itself.
async fn query_page(ix: UncheckedInteraction<QueryCode, QueryOob>) -> String {
    format!("code length {}", ix.data().code.len())
}

#[tokio::test]
async fn query_route_ids() {
    let oob: QueryOob = oob::Manager::builder()
        .store(oob::store::MemoryStore::new())
        .provider(oob::provider::FromVerifiedSubject)
        .callback_base(oob::CallbackBase::parse("http://127.0.0.1").unwrap())
        .build();
    assert_eq!(route_path(QueryCode::ROUTE), "/oob");
    let app = Router::new()
        .route(route_path(QueryCode::ROUTE), get(query_page))
        .layer(oob::http::interaction_headers())
        .with_state(oob.clone());
    let base = serve(app).await;
    let c = client();
    let open = oob
        .create(
            &user("alice"),
            Spec::new(QueryCode {
                code: "1234".into(),
            }),
        )
        .await
        .unwrap();
    // The callback URL the manager renders is the one that works.
    let url = open.callback_url();
    let path = url.strip_prefix("http://127.0.0.1").unwrap();
    let res = c.get(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_interaction_headers(&res, "query 200");
    assert_eq!(res.text().await.unwrap(), "code length 4");
    // Other parameters around it are fine; the id may be uppercase.
    let upper = open.id().to_string().to_uppercase();
    let res = c
        .get(format!("{base}/oob?lang=en&id={upper}&x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Another parameter whose name does not decode is not the id's business.
    for other in ["%ZZ=1", "%FF=1", "a%=1", "%C3=x"] {
        let res = c
            .get(format!("{base}/oob?{other}&id={}", open.id()))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{other}");
    }

    let id = open.id();
    let unknown = PendingId::random();
    for (query, status) in [
        (String::new(), 400),
        ("?id=".into(), 400),
        ("?lang=en".into(), 400),
        ("?id=%ZZ".into(), 400),
        ("?id=..%2F..%2Fetc".into(), 400),
        (format!("?id={id}&id={id}"), 400),
        (format!("?id={id}&id={unknown}"), 400),
        (format!("?id=+{id}"), 400),
        (format!("?id={}", "f".repeat(1000)), 400),
        (format!("?id={unknown}"), 404),
    ] {
        let res = c.get(format!("{base}/oob{query}")).send().await.unwrap();
        assert_eq!(res.status(), status, "query {query:?}");
        assert_interaction_headers(&res, "query rejection");
    }
}

#[tokio::test]
async fn a_path_id_wins_over_a_query_id() {
    let (state, _clock, _store, base) = start().await;
    let open = state.oob.create(&user("alice"), spec()).await.unwrap();
    let res = client()
        .get(format!("{base}/oob/cb/{}?id=garbage", open.id()))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// The handler maps the rejection itself: its own page for an expired link.
async fn custom(
    ix: Result<UncheckedInteraction<oob_tests::DeviceCode>, InteractionRejection>,
) -> Response {
    match ix {
        Ok(_) => "open".into_response(),
        Err(r) if r.kind().is_gone() => {
            (r.status(), "ask the assistant for a new link").into_response()
        }
        Err(r) => r.into_response(),
    }
}

#[tokio::test]
async fn a_handler_can_customize_the_rejection() {
    let (state, _clock, _store, _) = start().await;
    let app = Router::new()
        .route("/oob/cb/{id}", get(custom))
        .with_state(AppState::clone(&state));
    let base = serve(app).await;
    let alice = user("alice");
    let open = state.oob.create(&alice, spec()).await.unwrap();
    let id = open.id();
    let c = client();
    let res = c.get(format!("{base}/oob/cb/{id}")).send().await.unwrap();
    assert_eq!(res.text().await.unwrap(), "open");
    state.oob.cancel(open).await.unwrap();
    let res = c.get(format!("{base}/oob/cb/{id}")).send().await.unwrap();
    assert_eq!(res.status(), 410);
    assert_eq!(
        res.text().await.unwrap(),
        "ask the assistant for a new link"
    );
    let res = c.get(format!("{base}/oob/cb/x")).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert_interaction_headers(&res, "passed-through rejection");
}

#[test]
fn rejection_kinds_expose_their_status() {
    use RejectionKind as K;
    for (kind, status) in [
        (K::MissingId, 400),
        (K::MalformedId, 400),
        (K::NotFound, 404),
        (K::Completed, 200),
        (K::Cancelled, 410),
        (K::Declined, 410),
        (K::Expired, 410),
        (K::NoIdentity, 403),
        (K::WrongUser, 403),
        (K::Internal, 500),
        (K::Misconfigured, 500),
    ] {
        assert_eq!(kind.status().as_u16(), status, "{kind:?}");
        assert_eq!(InteractionRejection::new(kind).status().as_u16(), status);
        assert!(!kind.message().contains(INTERNAL_DETAIL));
    }
    let store_failure = InteractionRejection::from(oob::Error::Store(
        oob::store::StoreError::backend(std::io::Error::other(INTERNAL_DETAIL)),
    ));
    assert_eq!(store_failure.kind(), K::Internal);
    assert!(!store_failure.to_string().contains(INTERNAL_DETAIL));
    // The cause is kept for the service's logs.
    assert!(std::error::Error::source(&store_failure).is_some());
}

/// `Oob` is the manager type the support module builds; naming it keeps the import used.
#[allow(dead_code)]
fn _manager_type(_: &Oob) {}
