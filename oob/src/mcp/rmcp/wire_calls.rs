//! What [`spec_wire`](super::spec_wire) and [`SpecWire`](super::SpecWire) keep of each
//! `tools/call` request: its name and arguments, so that [`ToolCall`](super::ToolCall)
//! binds a `requestState` to the arguments the client sent even when rmcp's `Parameters`
//! or `JsonObject` extractor took them out of rmcp's context first.

use std::sync::Arc;

use ::rmcp::model::JsonObject;
use axum::extract::Request;
use http::Method;
use serde::Deserialize;
use serde_json::Value;

/// Keeps the `tools/call` requests of a POSTed JSON-RPC body in the HTTP request's
/// extensions (which rmcp's HTTP transport hands to the handler's context).
pub(super) async fn keep_calls(request: Request) -> Request {
    if request.method() != Method::POST {
        return request;
    }
    let (mut request, body) = super::body::body_up_to(request, KEEP_LIMIT).await;
    if let Some(body) = body {
        let calls = WireCalls::of_body(&body);
        if !calls.0.is_empty() {
            request.extensions_mut().insert(calls);
        }
    }
    request
}

/// The `tools/call` requests of one HTTP request or one rmcp request, as the client sent
/// them (name and arguments by JSON-RPC id), kept by [`spec_wire`] and [`SpecWire`] so that
/// [`ToolCall`](super::ToolCall) binds a `requestState` to the arguments whatever
/// extractor took them out of rmcp's context first.
#[derive(Debug, Clone, Default)]
pub(super) struct WireCalls(Vec<(Value, String, Arc<JsonObject>)>);

/// A JSON-RPC message, as far as keeping a `tools/call` needs (every other member is
/// skipped, nothing of it kept).
#[derive(Deserialize)]
struct Message {
    method: Option<String>,
    id: Option<Value>,
    params: Option<Params>,
}

/// A `tools/call`'s params: the tool and its arguments (the rest skipped).
#[derive(Deserialize)]
struct Params {
    name: String,
    arguments: Option<Value>,
}

impl WireCalls {
    /// The one call of an rmcp request (what [`SpecWire`](super::SpecWire) keeps).
    pub(super) fn one(id: Value, name: String, arguments: JsonObject) -> Self {
        Self(vec![(id, name, Arc::new(arguments))])
    }

    /// The `tools/call` request of a JSON-RPC body: only its id, name and arguments are
    /// parsed into values (the arguments once, kept as parsed). A batch (an array) keeps
    /// nothing: MCP has no batches since 2025-06-18 and rmcp refuses them, so no handler
    /// runs for one (and nothing here walks a client's array). Nor does a message that
    /// does not decode as one (rmcp then serves no call of it either).
    fn of_body(body: &[u8]) -> Self {
        if !super::body::starts_with(body, b'{') {
            return Self::default();
        }
        let Ok(Message {
            method,
            id: Some(id),
            params: Some(Params { name, arguments }),
        }) = serde_json::from_slice::<Message>(body)
        else {
            return Self::default();
        };
        if method.as_deref() != Some("tools/call") {
            return Self::default();
        }
        let arguments = match arguments {
            Some(Value::Object(arguments)) => arguments,
            _ => JsonObject::new(),
        };
        Self(vec![(id, name, Arc::new(arguments))])
    }

    /// The arguments of the call with JSON-RPC id `id`, if it is the tool `name`.
    pub(super) fn find(&self, id: &Value, name: &str) -> Option<Arc<JsonObject>> {
        self.0
            .iter()
            .find(|(i, n, _)| i == id && n == name)
            .map(|(_, _, arguments)| arguments.clone())
    }
}

/// The most of a request body [`spec_wire`] reads to keep its `tools/call` arguments (rmcp's
/// own default limit); a longer body passes on unread, and its calls' arguments are not kept.
const KEEP_LIMIT: usize = super::body::READ_LIMIT;

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::WireCalls;

    /// The calls of a body as the layer sees it.
    fn of_body(body: &[u8]) -> WireCalls {
        WireCalls::of_body(body)
    }

    #[test]
    fn the_calls_of_a_body_by_id_and_name() {
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
            "params": {"name": "t", "arguments": {"org": "acme"}}});
        let calls = of_body(body.to_string().as_bytes());
        let args = calls.find(&json!(7), "t").expect("kept");
        assert_eq!(args["org"], "acme");
        // Each find shares the one copy kept (arguments may be large).
        let again = calls.find(&json!(7), "t").expect("kept");
        assert!(std::sync::Arc::ptr_eq(&args, &again));
        assert!(calls.find(&json!("7"), "t").is_none());
        assert!(calls.find(&json!(7), "other").is_none());
        // No arguments: an empty object.
        let body = json!({"jsonrpc": "2.0", "id": "a", "method": "tools/call",
            "params": {"name": "t"}});
        let calls = of_body(body.to_string().as_bytes());
        assert!(calls.find(&json!("a"), "t").is_some_and(|a| a.is_empty()));
        // Other methods, notifications and bodies that are not JSON keep nothing.
        for body in [
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).to_string(),
            json!({"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "t"}}).to_string(),
            "not json".to_owned(),
        ] {
            assert!(of_body(body.as_bytes()).0.is_empty(), "{body}");
        }
        // A batch (which rmcp refuses) keeps nothing, however long.
        let call = |id: usize| {
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "t", "arguments": {"org": "acme"}}})
        };
        let batch = json!([call(1), call(1)]).to_string();
        assert!(of_body(batch.as_bytes()).0.is_empty());
        let long = Value::Array((0..80_000).map(call).collect()).to_string();
        assert!(of_body(long.as_bytes()).0.is_empty());
        // A JSON-RPC message written as an array (a struct's other form in serde) is no call.
        let positional = json!(["tools/call", 1, {"name": "t", "arguments": {}}]).to_string();
        assert!(of_body(positional.as_bytes()).0.is_empty());
    }
}
