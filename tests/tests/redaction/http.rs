//! The HTTP extractors and their rejections.

use std::fmt;

use oob::Namespace;
use oob::provider::VerifiedSubject;

use crate::leaks::Leaks;
use crate::{NS, Secret, UserError, manager, spec, subject};
/// The HTTP extractors and their rejections, through a router (they are only made by
/// extraction): `UncheckedInteraction`, `Interaction<_, ExtensionUser>`, `InteractionContext`,
/// `Interactions`, and `InteractionRejection` for a wrong user, a finished pending and an internal failure.
#[tokio::test]
async fn http_types_print_neither_secret_nor_namespace() {
    use axum::Router;
    use axum::body::Body as HttpBody;
    use axum::http::Request;
    use axum::routing::get;
    use oob::http::{
        ExtensionUser, Interaction, InteractionContext, InteractionLayer, InteractionRejection,
        Interactions, RejectionKind, UncheckedInteraction,
    };
    use tower::ServiceExt;

    fn both<D: fmt::Debug>(v: &D) -> String {
        format!("{v:?}\n{v:#?}")
    }
    async fn plain(ix: Result<UncheckedInteraction<Secret>, InteractionRejection>) -> String {
        ix.map_or_else(|r| both(&r), |ix| both(&ix))
    }
    async fn session(
        ix: Result<Interaction<Secret, ExtensionUser>, InteractionRejection>,
    ) -> String {
        ix.map_or_else(|r| both(&r), |ix| both(&ix))
    }
    async fn context(cx: InteractionContext<Secret>) -> String {
        both(&cx)
    }
    async fn call(app: &Router, uri: String, who: Option<VerifiedSubject>) -> String {
        let mut req = Request::get(uri);
        if let Some(who) = who {
            req = req.extension(who);
        }
        let res = app
            .clone()
            .oneshot(req.body(HttpBody::empty()).expect("request"))
            .await
            .expect("infallible");
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    let mut leaks = Leaks::default();
    let m = manager();
    let interactions: Interactions<Secret> = m.interactions();
    leaks.debug("Interactions", &interactions);
    let app = Router::new()
        .route("/oob/secret/{id}", get(plain))
        .route("/session/oob/secret/{id}", get(session))
        .with_state(interactions);
    let layered = Router::new()
        .route("/oob/secret/{id}", get(context))
        .route_layer(InteractionLayer::unchecked(m.clone()));

    let p = m.create(&subject(), spec()).await.expect("create");
    let id = p.id();
    let out = call(&app, format!("/oob/secret/{id}"), None).await;
    assert!(out.starts_with("Interaction"), "{out}");
    leaks.text("Interaction", &out);
    let out = call(&app, format!("/session/oob/secret/{id}"), Some(subject())).await;
    assert!(out.starts_with("Interaction"), "{out}");
    leaks.text("Interaction (checked)", &out);
    let intruder = VerifiedSubject::new(Namespace::new(format!("x{NS}")).expect("namespace"));
    let out = call(&app, format!("/session/oob/secret/{id}"), Some(intruder)).await;
    assert!(out.contains("WrongUser"), "{out}");
    leaks.text("InteractionRejection (wrong user)", &out);
    let out = call(&layered, format!("/oob/secret/{id}"), None).await;
    assert!(out.starts_with("InteractionContext"), "{out}");
    leaks.text("InteractionContext", &out);
    m.complete_id(id).await.expect("complete");
    let out = call(&app, format!("/oob/secret/{id}"), None).await;
    assert!(out.contains("Completed"), "{out}");
    leaks.text("InteractionRejection (completed)", &out);

    // A failed persist step keeps its source (for logs): an `oob` error around a user error.
    let p = m.create(&subject(), spec()).await.expect("create");
    let persist = m
        .complete_with(p, async |_token| Err::<(), _>(UserError))
        .await
        .expect_err("persist fails");
    let rejection = InteractionRejection::from(persist);
    assert_eq!(rejection.kind(), RejectionKind::NotSaved);
    leaks.error("InteractionRejection (not saved)", &rejection);
    leaks.error(
        "InteractionRejection::with_source",
        &InteractionRejection::with_source(RejectionKind::Internal, UserError),
    );
    leaks.assert_none(10);
}
