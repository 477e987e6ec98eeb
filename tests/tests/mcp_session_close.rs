//! `SessionOwners::closing`: a session the owner table drops by itself (a subject's oldest
//! beyond its limit, the least recently used when full, an idle one) is closed in rmcp's
//! session manager too, so its task and memory go with it. Before, rmcp kept an evicted
//! session until its own keep-alive ended it (five minutes by default), and a burst of new
//! sessions held that much memory for that long (found in review, 2026-12-07). Run against
//! rmcp's `LocalSessionManager` behind `StreamableHttpService`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use oob::mcp::rmcp::{SessionOwners, bind_sessions};
use rmcp::ServerHandler;
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tower::ServiceExt;

mod mcp_support;

/// A server with nothing to offer: the sessions are what is tested.
#[derive(Clone)]
struct Empty;

impl ServerHandler for Empty {}

fn app(owners: SessionOwners, sessions: Arc<LocalSessionManager>) -> Router {
    let mcp = StreamableHttpService::new(
        || Ok(Empty),
        sessions,
        StreamableHttpServerConfig::default().with_sse_keep_alive(None),
    );
    Router::new()
        .nest_service("/mcp", mcp)
        .layer(axum::middleware::from_fn_with_state(owners, bind_sessions))
        .layer(axum::middleware::from_fn(mcp_support::authenticate))
}

/// Opens a session as `user`: its id.
async fn open(app: &Router, user: &str) -> String {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let request = Request::post("/mcp")
        .header("host", "localhost")
        .header("authorization", format!("Bearer {user}"))
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(Body::from(body))
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    response.headers()["mcp-session-id"]
        .to_str()
        .expect("session id")
        .to_owned()
}

async fn in_rmcp(sessions: &LocalSessionManager, id: &str) -> bool {
    sessions.has_session(&id.into()).await.expect("has_session")
}

#[tokio::test]
async fn a_session_the_table_evicts_is_closed_in_rmcp() {
    let sessions = Arc::new(LocalSessionManager::default());
    let owners = SessionOwners::new().per_owner(1).closing(sessions.clone());
    let app = app(owners, sessions.clone());
    let first = open(&app, "alice").await;
    assert!(in_rmcp(&sessions, &first).await);
    // Alice's second session evicts her first (one each): rmcp closes it too.
    let second = open(&app, "alice").await;
    let start = std::time::Instant::now();
    while in_rmcp(&sessions, &first).await {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "the evicted session is still open in rmcp"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(in_rmcp(&sessions, &second).await, "the kept one stays");
}

#[tokio::test]
async fn without_closing_rmcp_keeps_an_evicted_session() {
    let sessions = Arc::new(LocalSessionManager::default());
    let app = app(SessionOwners::new().per_owner(1), sessions.clone());
    let first = open(&app, "alice").await;
    open(&app, "alice").await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(
        in_rmcp(&sessions, &first).await,
        "rmcp's keep-alive ends it"
    );
}
