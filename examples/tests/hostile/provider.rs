//! A stand-in OAuth provider for `mcp_server`'s `whoami` routes (`/oob/oauth/{id}` and its
//! callback exist only with a provider configured): its token endpoint refuses every code
//! (`invalid_grant`), so a callback that gets as far as an exchange ends on the library's
//! "the provider refused this sign-in" page, never on an exchange.

use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};

/// The provider's base URL and its server task (aborted on drop of the handle's owner).
pub(crate) async fn start() -> (String, tokio::task::JoinHandle<()>) {
    let (listener, base) = oob_examples::bind().await.expect("a loopback port");
    let app = Router::new()
        .route("/authorize", get(|| async { "consent" }))
        .route(
            "/token",
            post(|| async {
                (
                    StatusCode::BAD_REQUEST,
                    Json(serde_json::json!({"error": "invalid_grant"})),
                )
            }),
        );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (base, task)
}
