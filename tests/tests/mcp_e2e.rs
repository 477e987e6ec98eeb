//! End to end over 127.0.0.1: an rmcp server with a tool that needs an upstream token, the
//! interaction (secret form) routes on the same axum router, and real rmcp clients of both
//! protocol revisions. The "browser" is a plain HTTP client with a session cookie.
//!
//! The server is in `server` (a `ServerHandler` written by hand, answering -32042 on revision
//! 2025-11-25, with the interaction's form page and submit route); the client is
//! `mcp_support::client`'s. Each revision's flow is in `revisions`, what a request state may
//! be used for in `request_state`.

mod mcp_support;

#[path = "mcp_e2e/server.rs"]
mod server;

#[path = "mcp_e2e/revisions.rs"]
mod revisions;

#[path = "mcp_e2e/request_state.rs"]
mod request_state;

use mcp_support::client::{Client, connect_to, list_repos};
use rmcp::model::{CallToolRequestParams, ElicitationAction, ErrorData, ProtocolVersion};
use rmcp::service::{RoleClient, RunningService};
use serde_json::Value;
use server::Harness;
use tokio::sync::mpsc;

/// A client of `user` declaring `capabilities`, and the completion notifications it gets.
/// Its user would decline an elicitation in a call, but this server asks none (-32042).
async fn connect(
    h: &Harness,
    user: &str,
    version: ProtocolVersion,
    capabilities: Value,
) -> (
    RunningService<RoleClient, Client>,
    mpsc::UnboundedReceiver<String>,
) {
    let c = connect_to(
        &h.base,
        user,
        version,
        capabilities,
        ElicitationAction::Decline,
    )
    .await;
    (c.client, c.completed)
}

/// A call of `list_repos`, with a retry's request state when given.
fn call(state: Option<String>) -> CallToolRequestParams {
    list_repos(state, None)
}

/// The JSON-RPC error a call failed with.
fn mcp_error(e: rmcp::ServiceError) -> ErrorData {
    match e {
        rmcp::ServiceError::McpError(e) => e,
        other => panic!("expected a JSON-RPC error, got {other}"),
    }
}
