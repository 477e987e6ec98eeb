//! A real rmcp client of either revision, connected over streamable HTTP as a user
//! (`Authorization: Bearer <user>`), and what the tests read from its answers. Used by the
//! MCP test files with this module's server (mcp_flows) or a server of their own (mcp_e2e,
//! mcp_retry_needs).

use std::time::Duration;

use oob::AnyPending;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientConfig, CustomNotification,
    ElicitRequestParams, ElicitResult, ElicitationAction, ErrorData, ProtocolVersion,
};
use rmcp::service::{NotificationContext, RequestContext, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, ClientLifecycleMode, ClientServiceExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{Harness, call_params};

/// A guard against a hung test, not a timing assertion.
pub const GUARD: Duration = Duration::from_secs(30);

/// The capabilities of a client that supports URL-mode elicitation.
pub fn url_mode() -> Value {
    json!({"elicitation": {"url": {}}})
}

/// What a client of `version` declaring `capabilities` says about itself.
pub fn config(version: &ProtocolVersion, capabilities: Value) -> ClientConfig {
    serde_json::from_value(json!({
        "protocolVersion": version.as_str(),
        "capabilities": capabilities,
        "clientInfo": {"name": "oob-tests", "version": "1"},
    }))
    .unwrap()
}

/// Revision 2026-07-28 discovers (no session); earlier revisions initialize one.
pub fn lifecycle(version: &ProtocolVersion) -> ClientLifecycleMode {
    if *version == ProtocolVersion::V_2026_07_28 {
        ClientLifecycleMode::Discover {
            preferred_versions: vec![version.clone()],
        }
    } else {
        ClientLifecycleMode::Initialize
    }
}

/// Streamable HTTP to `{base}/mcp` as `user`.
pub fn transport(base: &str, user: &str) -> StreamableHttpClientTransport<reqwest::Client> {
    StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{base}/mcp")).auth_header(user),
    )
}

/// A client whose user answers every URL elicitation with `action` (and reports its URL),
/// and which records completion notifications.
#[derive(Clone)]
pub struct Client {
    config: ClientConfig,
    action: ElicitationAction,
    asked: mpsc::UnboundedSender<String>,
    completed: mpsc::UnboundedSender<String>,
}

impl ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        self.config.clone()
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _cx: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::UrlElicitationParams { url, .. } = request {
            let _ = self.asked.send(url);
        }
        Ok(ElicitResult::new(self.action.clone()))
    }

    async fn on_custom_notification(
        &self,
        n: CustomNotification,
        _cx: NotificationContext<RoleClient>,
    ) {
        if n.method == "notifications/elicitation/complete"
            && let Some(id) = n.params.as_ref().and_then(|p| p["elicitationId"].as_str())
        {
            let _ = self.completed.send(id.to_owned());
        }
    }
}

/// A running [`Client`]: the URLs its user was asked to open in a call, and the ids of the
/// completion notifications it received.
pub struct Connected {
    pub client: RunningService<RoleClient, Client>,
    pub asked: mpsc::UnboundedReceiver<String>,
    pub completed: mpsc::UnboundedReceiver<String>,
}

/// A client of `user` at `{base}/mcp` declaring `capabilities`, whose user answers an
/// elicitation in a call with `action`.
pub async fn connect_to(
    base: &str,
    user: &str,
    version: ProtocolVersion,
    capabilities: Value,
    action: ElicitationAction,
) -> Connected {
    let (asked_tx, asked) = mpsc::unbounded_channel();
    let (completed_tx, completed) = mpsc::unbounded_channel();
    let client = Client {
        config: config(&version, capabilities),
        action,
        asked: asked_tx,
        completed: completed_tx,
    }
    .serve_with_lifecycle(transport(base, user), lifecycle(&version))
    .await
    .unwrap();
    Connected {
        client,
        asked,
        completed,
    }
}

/// A URL-mode client of `user` on the harness's server.
pub async fn connect(
    h: &Harness<impl Clone + Send + Sync + 'static>,
    user: &str,
    version: ProtocolVersion,
    action: ElicitationAction,
) -> Connected {
    connect_to(&h.base, user, version, url_mode(), action).await
}

/// A `tools/call` of `list_repos` for the org `acme`, with a retry's state and input
/// responses when given.
pub fn list_repos(state: Option<String>, responses: Option<Value>) -> CallToolRequestParams {
    call_params("list_repos", json!({"org": "acme"}), state, responses)
}

/// The tool result of a complete answer.
pub fn complete(response: CallToolResponse) -> CallToolResult {
    match response {
        CallToolResponse::Complete(r) => r,
        other => panic!("expected a tool result, got {other:?}"),
    }
}

/// A tool result's content, as JSON text.
pub fn text_of(result: &CallToolResult) -> String {
    serde_json::to_value(&result.content).unwrap().to_string()
}

/// The `input_required` result of a tool call, as JSON.
pub fn input_required(response: CallToolResponse) -> Value {
    match response {
        CallToolResponse::InputRequired(r) => serde_json::to_value(&r).unwrap(),
        other => panic!("expected input_required, got {other:?}"),
    }
}

/// The URL an `input_required` result sends the user to (for the upstream token), and its
/// request state.
pub fn url_and_state(asked: &Value) -> (String, String) {
    let url = asked["inputRequests"]["upstream_token"]["params"]["url"]
        .as_str()
        .unwrap();
    let state = asked["requestState"].as_str().unwrap();
    (url.to_owned(), state.to_owned())
}

/// The URL and state of an `input_required` answer.
pub fn asked(response: CallToolResponse) -> (String, String) {
    url_and_state(&input_required(response))
}

/// The pending id an interaction URL names (its last segment).
pub fn id_of(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

/// The state of the pending at `url`.
pub async fn state_of(h: &Harness<impl Clone + Send + Sync + 'static>, url: &str) -> &'static str {
    match h
        .tools
        .manager()
        .get(id_of(url).parse().unwrap())
        .await
        .unwrap()
    {
        AnyPending::Open(_) => "open",
        AnyPending::Completed(_) => "completed",
        AnyPending::Cancelled(p) if p.is_declined() => "declined",
        AnyPending::Cancelled(_) => "cancelled",
        AnyPending::Expired(_) => "expired",
        _ => "unknown",
    }
}
