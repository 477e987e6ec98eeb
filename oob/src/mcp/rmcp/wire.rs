//! `input_required` results as revision 2026-07-28 defines them: rmcp's typed URL-mode
//! elicitation params always write the removed `elicitationId`. [`spec_wire`] rewrites them
//! on the streamable-HTTP transport, [`SpecWire`] on any transport that takes a `Service`
//! (stdio).

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use futures_core::Stream;

use ::rmcp::ServerHandler;
use ::rmcp::model::{
    ClientNotification, ClientRequest, CustomResult, ErrorData, InputRequiredResult,
    ProtocolVersion, ServerConfig, ServerResult,
};
use ::rmcp::service::{NotificationContext, RequestContext, RoleServer, Service};
use serde_json::Value;

use super::super::ELICITATION_CREATE;
use super::wire_calls::{WireCalls, keep_calls};

/// An rmcp server handler served with spec-exact `input_required` results.
///
/// rmcp models a URL-mode elicitation with an `elicitation_id` it always serializes, so an
/// `input_required` result built from its types carries `"elicitationId": ""`, a field
/// revision 2026-07-28 removed. Wrapping the handler rewrites such a result, and nothing
/// else, into the JSON the revision defines; it also keeps the name and arguments of each
/// `tools/call`, so that [`ToolCall`](super::ToolCall) binds a `requestState` to them
/// whatever extractor comes first. Use it where rmcp takes a service:
///
/// ```ignore
/// StreamableHttpService::new(move || Ok(SpecWire::new(server.clone())), sessions, config)
/// ```
#[derive(Debug, Clone)]
pub struct SpecWire<H>(H);

impl<H> SpecWire<H> {
    /// Serves `handler`.
    #[must_use]
    pub fn new(handler: H) -> Self {
        Self(handler)
    }

    /// The handler.
    #[must_use]
    pub fn handler(&self) -> &H {
        &self.0
    }
}

impl<H: ServerHandler> Service<RoleServer> for SpecWire<H> {
    async fn handle_request(
        &self,
        request: ClientRequest,
        mut context: RequestContext<RoleServer>,
    ) -> Result<ServerResult, ErrorData> {
        if let ClientRequest::CallToolRequest(call) = &request
            && let Ok(id) = serde_json::to_value(&context.id)
        {
            let arguments = call.params.arguments.clone().unwrap_or_default();
            let name = call.params.name.to_string();
            context
                .extensions
                .insert(WireCalls::one(id, name, arguments));
        }
        match Service::handle_request(&self.0, request, context).await? {
            ServerResult::InputRequiredResult(r) => Ok(ServerResult::CustomResult(CustomResult(
                input_required_value(&r)?,
            ))),
            other => Ok(other),
        }
    }

    fn handle_notification(
        &self,
        notification: ClientNotification,
        context: NotificationContext<RoleServer>,
    ) -> impl Future<Output = Result<(), ErrorData>> + Send + '_ {
        Service::handle_notification(&self.0, notification, context)
    }

    fn get_info(&self) -> ServerConfig {
        ServerHandler::get_info(&self.0)
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        ServerHandler::supported_protocol_versions(&self.0)
    }
}

/// axum middleware for the streamable-HTTP MCP endpoint: every `input_required` result in
/// a response (JSON or server-sent events, rewritten event by event as they stream) is
/// written without `elicitationId`; nothing else changes. It also keeps the name and
/// arguments of each `tools/call` it passes on (the body is read, up to 4 MiB, and passed on
/// unchanged), so that [`ToolCall`](super::ToolCall) binds a `requestState` to them whatever
/// extractor comes first.
///
/// ```ignore
/// let mcp = Router::new()
///     .nest_service("/mcp", rmcp_service)
///     .layer(axum::middleware::from_fn(spec_wire));
/// ```
pub async fn spec_wire(request: Request, next: Next) -> Response {
    let request = keep_calls(request).await;
    let response = next.run(request).await;
    let (parts, body) = response.into_parts();
    let stream = Rewrite {
        inner: body.into_data_stream(),
        buf: Vec::new(),
        done: false,
    };
    Response::from_parts(parts, Body::from_stream(stream))
}

/// Buffers a body up to each blank line (the end of a server-sent event), rewrites that
/// event, and passes it on; a plain JSON body is rewritten whole at its end.
struct Rewrite {
    inner: BodyDataStream,
    buf: Vec<u8>,
    done: bool,
}

impl Stream for Rewrite {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let event: Vec<u8> = self.buf.drain(..end + 2).collect();
                return Poll::Ready(Some(Ok(rewrite(event))));
            }
            if self.done {
                if self.buf.is_empty() {
                    return Poll::Ready(None);
                }
                let rest = std::mem::take(&mut self.buf);
                return Poll::Ready(Some(Ok(rewrite(rest))));
            }
            match Pin::new(&mut self.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(bytes))) => self.buf.extend_from_slice(&bytes),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(None) => self.done = true,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// One event (or a whole JSON body) with its `input_required` result rewritten.
fn rewrite(chunk: Vec<u8>) -> Bytes {
    const NEEDLE: &[u8] = b"input_required";
    if !chunk.windows(NEEDLE.len()).any(|w| w == NEEDLE) {
        return Bytes::from(chunk);
    }
    let Ok(text) = std::str::from_utf8(&chunk) else {
        return Bytes::from(chunk);
    };
    let fixed = |json: &str| -> Option<String> {
        let mut message: Value = serde_json::from_str(json).ok()?;
        let result = message.get_mut("result")?;
        if result.get("resultType").and_then(Value::as_str) != Some("input_required") {
            return None;
        }
        strip_elicitation_ids(result);
        serde_json::to_string(&message).ok()
    };
    if text.trim_start().starts_with('{') {
        return fixed(text.trim()).map_or_else(|| Bytes::from(chunk.clone()), Bytes::from);
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\r', '\n']);
        match body
            .strip_prefix("data:")
            .and_then(|d| fixed(d.trim_start()))
        {
            Some(json) => {
                out.push_str("data: ");
                out.push_str(&json);
                out.push_str(&line[body.len()..]);
            }
            None => out.push_str(line),
        }
    }
    Bytes::from(out)
}

/// `result` as the JSON revision 2026-07-28 defines: URL-mode `elicitation/create` input
/// requests without `elicitationId`.
pub fn input_required_value(result: &InputRequiredResult) -> Result<Value, ErrorData> {
    let mut value = serde_json::to_value(result).map_err(|e| {
        tracing::error!(target: "oob", error = %e, "an input_required result did not serialize");
        ErrorData::internal_error("internal error", None)
    })?;
    strip_elicitation_ids(&mut value);
    Ok(value)
}

/// Removes `elicitationId` from every URL-mode `elicitation/create` in `inputRequests`.
pub(super) fn strip_elicitation_ids(result: &mut Value) {
    let Some(Value::Object(requests)) = result.get_mut("inputRequests") else {
        return;
    };
    for request in requests.values_mut() {
        if request.get("method").and_then(Value::as_str) != Some(ELICITATION_CREATE) {
            continue;
        }
        if let Some(Value::Object(params)) = request.get_mut("params")
            && params.get("mode").and_then(Value::as_str) == Some("url")
        {
            params.remove("elicitationId");
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{rewrite, strip_elicitation_ids};

    #[test]
    fn events_and_json_bodies_are_rewritten() {
        let result = json!({"jsonrpc": "2.0", "id": 2, "result": {"resultType": "input_required",
            "requestState": "s", "inputRequests": {"a": {"method": "elicitation/create",
            "params": {"mode": "url", "url": "u", "message": "m", "elicitationId": ""}}}}});
        let event = format!("id: 0\ndata: {result}\n\n");
        let out = String::from_utf8(rewrite(event.into_bytes()).to_vec()).unwrap();
        assert!(
            out.starts_with("id: 0\ndata: {") && out.ends_with("}\n\n"),
            "{out}"
        );
        assert!(
            !out.contains("elicitationId") && out.contains("\"url\":\"u\""),
            "{out}"
        );
        let out = rewrite(result.to_string().into_bytes());
        assert!(
            !String::from_utf8(out.to_vec())
                .unwrap()
                .contains("elicitationId")
        );
        // Anything else passes unchanged.
        let other = b"data: {\"result\":{\"elicitationId\":\"\"}}\n\n".to_vec();
        assert_eq!(rewrite(other.clone()).to_vec(), other);
    }

    #[test]
    fn only_url_elicitation_ids_are_removed() {
        let mut v = json!({"resultType": "input_required", "requestState": "s",
            "inputRequests": {
                "a": {"method": "elicitation/create",
                      "params": {"mode": "url", "url": "u", "message": "m", "elicitationId": ""}},
                "b": {"method": "sampling/createMessage", "params": {"elicitationId": "keep"}}}});
        strip_elicitation_ids(&mut v);
        assert_eq!(
            v,
            json!({"resultType": "input_required", "requestState": "s",
                "inputRequests": {
                    "a": {"method": "elicitation/create",
                          "params": {"mode": "url", "url": "u", "message": "m"}},
                    "b": {"method": "sampling/createMessage", "params": {"elicitationId": "keep"}}}})
        );
    }
}
