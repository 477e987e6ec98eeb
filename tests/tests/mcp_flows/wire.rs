//! The 2026-07-28 wire has no `elicitationId`: over streamable HTTP behind `spec_wire`, and
//! over stdio through `SpecWire`.

use oob::vault::MemoryVault;
use rmcp::model::{CallToolRequestParams, CallToolResponse, CallToolResult, ErrorData};
use rmcp::service::RequestContext;
use serde_json::{Value, json};

use crate::mcp_support;
use crate::mcp_support::client::GUARD;
use crate::mcp_support::{Options, start};

/// One SSE or JSON body's JSON-RPC message.
fn json_rpc(body: &str) -> Value {
    let data = body
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or(body);
    serde_json::from_str(data).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_2026_wire_has_no_elicitation_id() {
    let h = start(Options::default()).await;
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "list_repos", "arguments": {"org": "acme"},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"url": {}}},
            "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"}}}});
    let res = reqwest::Client::new()
        .post(format!("{}/mcp", h.base))
        .header("authorization", "Bearer alice")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "list_repos")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    let result = &json_rpc(&text)["result"];
    assert_eq!(result["resultType"], "input_required", "{text}");
    let params = &result["inputRequests"]["upstream_token"]["params"];
    assert_eq!(params["mode"], "url");
    assert!(params["url"].as_str().unwrap().starts_with(&h.base));
    assert!(params.get("elicitationId").is_none(), "{params}");
    assert!(!text.contains("elicitationId"), "{text}");
}

/// A stdio-style server (no HTTP, so no `spec_wire`): one fixed user, the tool written by
/// hand as `ServerHandler::call_tool`.
#[derive(Clone)]
struct StdioServer {
    tools: oob::mcp::rmcp::OobTools<
        mcp_support::UpstreamToken,
        oob::store::MemoryStore<mcp_support::UpstreamToken>,
        oob::provider::FixedNamespace,
        MemoryVault<String>,
    >,
}

impl rmcp::ServerHandler for StdioServer {
    fn get_info(&self) -> rmcp::model::ServerConfig {
        rmcp::model::ServerConfig::new(
            rmcp::model::ServerCapabilities::builder()
                .enable_tools()
                .build(),
        )
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<rmcp::RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let call = oob::mcp::rmcp::ToolCall::from_params(&request);
        let need = oob::mcp::rmcp::Need::new(
            oob::Spec::new(mcp_support::UpstreamToken),
            "upstream",
            "Sign in.",
        );
        match self.tools.require::<String>(&ctx, &call, need).await? {
            oob::mcp::rmcp::Gate::Ready(token) => {
                Ok(CallToolResult::success(vec![rmcp::model::ContentBlock::text(token)]).into())
            }
            oob::mcp::rmcp::Gate::Respond(response) => Ok(response),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_2026_wire_has_no_elicitation_id_through_spec_wire_on_stdio() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    let manager = oob::Manager::builder()
        .store(oob::store::MemoryStore::new())
        .provider(oob::provider::FixedNamespace::new(
            oob::Namespace::new("alice").unwrap(),
        ))
        .callback_base(oob::CallbackBase::parse("http://127.0.0.1:9").unwrap())
        .build();
    let tools = oob::mcp::rmcp::OobTools::new(
        manager,
        MemoryVault::new(),
        oob::mcp::StateKeys::new(mcp_support::KEY).unwrap(),
    );
    let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    let (server_read, server_write) = tokio::io::split(server_end);
    let service = oob::mcp::rmcp::SpecWire::new(StdioServer { tools });
    tokio::spawn(async move {
        if let Ok(running) = rmcp::serve_server(service, (server_read, server_write)).await {
            let _ = running.waiting().await;
        }
    });
    let (client_read, mut client_write) = tokio::io::split(client_end);
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
        "name": "list_repos", "arguments": {},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"url": {}}},
            "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"}}}});
    client_write
        .write_all(format!("{request}\n").as_bytes())
        .await
        .unwrap();
    let mut lines = BufReader::new(client_read).lines();
    let line = tokio::time::timeout(GUARD, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let response: Value = serde_json::from_str(&line).unwrap();
    let result = &response["result"];
    assert_eq!(result["resultType"], "input_required", "{line}");
    let params = &result["inputRequests"]["upstream_token"]["params"];
    assert_eq!(params["mode"], "url", "{line}");
    assert!(params.get("elicitationId").is_none(), "{line}");
}
