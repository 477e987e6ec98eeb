//! Whether a `POST` without `Mcp-Session-Id` may open an MCP session: an `initialize` is the
//! only request that does (rmcp serves every other request without a session statelessly,
//! or refuses it). The body is read up to [`PEEK_LIMIT`] and handed on unchanged. Only a
//! body read whole that parses as JSON-RPC and names no `initialize` is known not to open
//! one; anything else (a longer body, one that fails mid-read or does not parse) is taken
//! as one that may, so the session table's capacity is checked before rmcp sees it.

use axum::extract::Request;
use serde_json::Value;

/// How much of a body is read to find its method: as much as rmcp takes (its default
/// request body limit), so every request rmcp would serve is told apart, a `tools/call`
/// with large arguments included. A longer body (rmcp refuses it) is passed on as it
/// streams, and is taken as one that may open a session.
pub(super) const PEEK_LIMIT: usize = super::super::body::READ_LIMIT;

/// Whether a JSON-RPC body (one message or a batch) names no `initialize`.
fn names_no_initialize(body: &Value) -> bool {
    let is_initialize = |m: &Value| m.get("method").and_then(Value::as_str) == Some("initialize");
    match body {
        Value::Array(batch) => !batch.iter().any(is_initialize),
        message @ Value::Object(_) => !is_initialize(message),
        _ => false,
    }
}

/// `request`, its body intact, and whether it may open a session (see the module docs). The
/// `Mcp-Method` header is not trusted for this: rmcp checks it only on some protocol
/// versions, so an `initialize` body may come with another method named there.
pub(super) async fn peek(request: Request) -> (Request, bool) {
    let (request, json) = super::super::body::json_up_to(request, PEEK_LIMIT).await;
    let may_open = !matches!(json, Some(Some(body)) if names_no_initialize(&body));
    (request, may_open)
}

#[cfg(test)]
#[path = "session_opening_tests.rs"]
mod tests;
