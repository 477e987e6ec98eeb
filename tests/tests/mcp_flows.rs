//! The rmcp glue against real rmcp clients of both revisions, over 127.0.0.1: tools are
//! listed; the user's decline and cancel reach the server on both revisions; accept waits for
//! the browser step instead of asking again; the 2026-07-28 wire has no `elicitationId`;
//! one completion notifier per pending and session; failures are logged, not sent; sessions
//! belong to their user. Each test fails on the behaviour issue 15 describes.

mod mcp_support;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcp_support::{Harness, Options, browser_submit, start, start_with_vault};
use oob::AnyPending;
use oob::mcp::rmcp::{CANCELLED, DECLINED, UrlAsk};
use oob::vault::{MemoryVault, Vault, VaultError};
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

const GUARD: Duration = Duration::from_secs(30);

/// A client whose user answers every URL elicitation with `action` (and reports its URL),
/// and which records completion notifications.
#[derive(Clone)]
struct Client {
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

struct Connected {
    client: RunningService<RoleClient, Client>,
    asked: mpsc::UnboundedReceiver<String>,
    completed: mpsc::UnboundedReceiver<String>,
}

async fn connect(
    h: &Harness<impl Clone + Send + Sync + 'static>,
    user: &str,
    version: ProtocolVersion,
    action: ElicitationAction,
) -> Connected {
    let config: ClientConfig = serde_json::from_value(json!({
        "protocolVersion": version.as_str(),
        "capabilities": {"elicitation": {"url": {}}},
        "clientInfo": {"name": "flows", "version": "1"},
    }))
    .unwrap();
    let (asked_tx, asked) = mpsc::unbounded_channel();
    let (completed_tx, completed) = mpsc::unbounded_channel();
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp", h.base)).auth_header(user),
    );
    let lifecycle = if version == ProtocolVersion::V_2026_07_28 {
        ClientLifecycleMode::Discover {
            preferred_versions: vec![version],
        }
    } else {
        ClientLifecycleMode::Initialize
    };
    let client = Client {
        config,
        action,
        asked: asked_tx,
        completed: completed_tx,
    }
    .serve_with_lifecycle(transport, lifecycle)
    .await
    .unwrap();
    Connected {
        client,
        asked,
        completed,
    }
}

fn call(state: Option<String>, responses: Option<Value>) -> CallToolRequestParams {
    let mut p = CallToolRequestParams::new("list_repos")
        .with_arguments(json!({"org": "acme"}).as_object().cloned().unwrap());
    p.request_state = state;
    p.input_responses = responses.map(|r| serde_json::from_value(r).unwrap());
    p
}

fn complete(response: CallToolResponse) -> CallToolResult {
    match response {
        CallToolResponse::Complete(r) => r,
        other => panic!("expected a tool result, got {other:?}"),
    }
}

fn text_of(result: &CallToolResult) -> String {
    serde_json::to_value(&result.content).unwrap().to_string()
}

/// The URL and state of an `input_required` answer.
fn asked(response: CallToolResponse) -> (String, String) {
    let CallToolResponse::InputRequired(r) = response else {
        panic!("expected input_required, got {response:?}")
    };
    let v = serde_json::to_value(&r).unwrap();
    (
        v["inputRequests"]["upstream_token"]["params"]["url"]
            .as_str()
            .unwrap()
            .to_owned(),
        v["requestState"].as_str().unwrap().to_owned(),
    )
}

fn id_of(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

async fn state_of(h: &Harness<impl Clone + Send + Sync + 'static>, url: &str) -> &'static str {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_are_listed() {
    let h = start(Options::default()).await;
    for version in [ProtocolVersion::V_2025_11_25, ProtocolVersion::V_2026_07_28] {
        let c = connect(&h, "alice", version, ElicitationAction::Accept).await;
        let tools = c.client.list_all_tools().await.unwrap();
        let names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
        assert_eq!(names, ["list_repos"]);
        assert!(
            tools[0]
                .description
                .as_deref()
                .unwrap()
                .contains("repositories")
        );
        c.client.cancel().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_2026_decline_and_cancel_end_the_pending() {
    let h = start(Options::default()).await;
    let c = connect(
        &h,
        "alice",
        ProtocolVersion::V_2026_07_28,
        ElicitationAction::Accept,
    )
    .await;
    for (action, ended, said) in [
        ("decline", "declined", DECLINED),
        ("cancel", "cancelled", CANCELLED),
    ] {
        let (url, state) = asked(c.client.call_tool_once(call(None, None)).await.unwrap());
        let answer = json!({"upstream_token": {"action": action}});
        let r = complete(
            c.client
                .call_tool_once(call(Some(state), Some(answer)))
                .await
                .unwrap(),
        );
        assert_eq!(r.is_error, Some(true));
        assert!(text_of(&r).contains(said), "{}", text_of(&r));
        assert_eq!(state_of(&h, &url).await, ended);
        // The URL is over for the browser too.
        assert_eq!(browser_submit(&url, "alice", "gho_late").await, 410);
    }
    assert_eq!(h.runs.load(Ordering::SeqCst), 0);
    c.client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_2026_accept_waits_for_the_browser_step() {
    let h = start(Options {
        accept_wait: Duration::from_secs(10),
        ..Options::default()
    })
    .await;
    let c = connect(
        &h,
        "alice",
        ProtocolVersion::V_2026_07_28,
        ElicitationAction::Accept,
    )
    .await;
    let (url, state) = asked(c.client.call_tool_once(call(None, None)).await.unwrap());
    // The user agreed to open the URL; the browser step finishes a moment later.
    let browser = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        browser_submit(&url, "alice", "gho_alice").await
    });
    let started = Instant::now();
    let answer = json!({"upstream_token": {"action": "accept"}});
    let r = complete(
        c.client
            .call_tool_once(call(Some(state), Some(answer)))
            .await
            .unwrap(),
    );
    assert!(text_of(&r).contains("gho_alice"), "{}", text_of(&r));
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert_eq!(browser.await.unwrap(), 200);
    c.client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_2026_accept_without_the_step_asks_again_after_the_wait() {
    let wait = Duration::from_millis(400);
    let h = start(Options {
        accept_wait: wait,
        ..Options::default()
    })
    .await;
    let c = connect(
        &h,
        "alice",
        ProtocolVersion::V_2026_07_28,
        ElicitationAction::Accept,
    )
    .await;
    let (url, state) = asked(c.client.call_tool_once(call(None, None)).await.unwrap());
    let started = Instant::now();
    let answer = json!({"upstream_token": {"action": "accept"}});
    let (again, _) = asked(
        c.client
            .call_tool_once(call(Some(state), Some(answer)))
            .await
            .unwrap(),
    );
    assert!(started.elapsed() >= wait, "{:?}", started.elapsed());
    assert_eq!(again, url, "the same interaction, asked again");
    assert_eq!(state_of(&h, &url).await, "open");
    c.client.cancel().await.unwrap();
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_2025_in_call_decline_and_cancel_reach_the_server() {
    let h = start(Options::default()).await;
    for (action, ended, said) in [
        (ElicitationAction::Decline, "declined", DECLINED),
        (ElicitationAction::Cancel, "cancelled", CANCELLED),
    ] {
        let mut c = connect(&h, "alice", ProtocolVersion::V_2025_11_25, action).await;
        let r = complete(c.client.call_tool_once(call(None, None)).await.unwrap());
        let url = c.asked.try_recv().expect("asked in the call");
        assert_eq!(r.is_error, Some(true));
        assert!(text_of(&r).contains(said), "{}", text_of(&r));
        assert_eq!(state_of(&h, &url).await, ended);
        assert_eq!(h.tools.notifiers(), 0);
        c.client.cancel().await.unwrap();
        h.tools
            .manager()
            .operator()
            .clear_namespace(&oob::Namespace::new("alice").unwrap())
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_2025_in_call_accept_waits_then_runs() {
    let h = start(Options::default()).await;
    let mut c = connect(
        &h,
        "alice",
        ProtocolVersion::V_2025_11_25,
        ElicitationAction::Accept,
    )
    .await;
    let peer = c.client.peer().clone();
    let call_task = tokio::spawn(async move { peer.call_tool_once(call(None, None)).await });
    let url = tokio::time::timeout(GUARD, c.asked.recv())
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(browser_submit(&url, "alice", "gho_alice").await, 200);
    let r = complete(call_task.await.unwrap().unwrap());
    assert!(text_of(&r).contains("gho_alice"));
    assert_eq!(h.runs.load(Ordering::SeqCst), 1);
    c.client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_2025_one_notifier_and_one_notification_per_pending_and_session() {
    let h = start(Options {
        accept_wait: Duration::from_millis(200),
        ..Options::default()
    })
    .await;
    let mut c = connect(
        &h,
        "alice",
        ProtocolVersion::V_2025_11_25,
        ElicitationAction::Accept,
    )
    .await;
    // Asked once in the call; the step outlasts the wait: -32042, and each retry of the same
    // session waits again instead of asking again.
    let mut id = String::new();
    for _ in 0..4 {
        let rmcp::ServiceError::McpError(e) =
            c.client.call_tool_once(call(None, None)).await.unwrap_err()
        else {
            panic!("expected a JSON-RPC error")
        };
        assert_eq!(e.code.0, -32042);
        id = e.data.unwrap()["elicitations"][0]["elicitationId"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(h.tools.notifiers(), 1);
    }
    let url = c.asked.try_recv().unwrap();
    assert!(c.asked.try_recv().is_err(), "asked once");
    assert_eq!(browser_submit(&url, "alice", "gho_alice").await, 200);
    let notified = tokio::time::timeout(GUARD, c.completed.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(notified, id);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(c.completed.try_recv().is_err(), "one notification");
    assert_eq!(h.tools.notifiers(), 0);
    let r = complete(c.client.call_tool_once(call(None, None)).await.unwrap());
    assert!(text_of(&r).contains("gho_alice"));
    c.client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_2025_notifier_ends_with_the_session() {
    let h = start(Options {
        url_ask: UrlAsk::Error,
        ..Options::default()
    })
    .await;
    let c = connect(
        &h,
        "alice",
        ProtocolVersion::V_2025_11_25,
        ElicitationAction::Accept,
    )
    .await;
    assert!(c.client.call_tool_once(call(None, None)).await.is_err());
    assert_eq!(h.tools.notifiers(), 1);
    c.client.cancel().await.unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while h.tools.notifiers() > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(h.tools.notifiers(), 0, "the notifier outlived its session");
}

/// A vault whose every read fails with a message that must stay on the server.
#[derive(Clone)]
struct BrokenVault;

impl Vault<String> for BrokenVault {
    async fn write(
        &self,
        _token: &dyn oob::Capability,
        _key: &str,
        _value: String,
        _options: oob::vault::WriteOptions,
    ) -> Result<oob::vault::Version, VaultError> {
        Err(VaultError::Backend("disk on fire at /var/secret".into()))
    }
    async fn read(
        &self,
        _token: &dyn oob::Capability,
        _key: &str,
    ) -> Result<Option<oob::vault::Entry<String>>, VaultError> {
        Err(VaultError::Backend("disk on fire at /var/secret".into()))
    }
    async fn delete(&self, _token: &dyn oob::Capability, _key: &str) -> Result<bool, VaultError> {
        Err(VaultError::Backend("disk on fire at /var/secret".into()))
    }
    async fn keys(&self, _token: &dyn oob::Capability) -> Result<Vec<String>, VaultError> {
        Err(VaultError::Backend("disk on fire at /var/secret".into()))
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// One thread: the subscriber set for this test is the server's too.
#[tokio::test(flavor = "current_thread")]
async fn failures_are_logged_on_the_server_not_sent() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::ERROR)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let h = start_with_vault(Options::default(), BrokenVault).await;
    let c = connect(
        &h,
        "alice",
        ProtocolVersion::V_2026_07_28,
        ElicitationAction::Accept,
    )
    .await;
    let rmcp::ServiceError::McpError(e) =
        c.client.call_tool_once(call(None, None)).await.unwrap_err()
    else {
        panic!("expected a JSON-RPC error")
    };
    assert_eq!(e.code.0, -32603);
    assert!(!e.message.contains("fire") && e.data.is_none(), "{e:?}");
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("disk on fire"), "not logged: {log:?}");
    c.client.cancel().await.unwrap();
}

/// A raw streamable-HTTP request as `user`, in `session`.
async fn raw(
    h: &Harness<impl Clone + Send + Sync + 'static>,
    method: reqwest::Method,
    user: &str,
    session: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}/mcp", h.base))
        .header("authorization", format!("Bearer {user}"))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25");
    if let Some(s) = session {
        req = req.header("mcp-session-id", s);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_belongs_to_the_user_who_opened_it() {
    let h = start(Options::default()).await;
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}});
    let opened = raw(&h, reqwest::Method::POST, "alice", None, Some(init)).await;
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    drop(opened.text().await);
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let ok = raw(
        &h,
        reqwest::Method::POST,
        "alice",
        Some(&session),
        Some(initialized),
    )
    .await;
    assert!(ok.status().is_success(), "{}", ok.status());
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});

    // Bob (or nobody) learns the id: neither a call nor DELETE reaches the session.
    for user in ["bob", ""] {
        let r = raw(
            &h,
            reqwest::Method::POST,
            user,
            Some(&session),
            Some(list.clone()),
        )
        .await;
        assert_eq!(r.status(), 404);
        let r = raw(&h, reqwest::Method::DELETE, user, Some(&session), None).await;
        assert_eq!(r.status(), 404);
    }
    let r = raw(
        &h,
        reqwest::Method::POST,
        "alice",
        Some(&session),
        Some(list),
    )
    .await;
    assert!(r.status().is_success());
    assert!(r.text().await.unwrap().contains("list_repos"));
    let r = raw(&h, reqwest::Method::DELETE, "alice", Some(&session), None).await;
    assert!(r.status().is_success(), "{}", r.status());
    assert!(h.owners.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_is_untouched_by_other_users() {
    // The 2026 accept-wait does not let one user's completion answer another's call.
    let h = start(Options {
        accept_wait: Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    let alice = connect(
        &h,
        "alice",
        ProtocolVersion::V_2026_07_28,
        ElicitationAction::Accept,
    )
    .await;
    let bob = connect(
        &h,
        "bob",
        ProtocolVersion::V_2026_07_28,
        ElicitationAction::Accept,
    )
    .await;
    let (alice_url, _) = asked(alice.client.call_tool_once(call(None, None)).await.unwrap());
    let (_, bob_state) = asked(bob.client.call_tool_once(call(None, None)).await.unwrap());
    assert_eq!(browser_submit(&alice_url, "alice", "gho_alice").await, 200);
    let answer = json!({"upstream_token": {"action": "accept"}});
    asked(
        bob.client
            .call_tool_once(call(Some(bob_state), Some(answer)))
            .await
            .unwrap(),
    );
    let bob_ns = oob::provider::VerifiedSubject::new(oob::Namespace::new("bob").unwrap());
    let token = h.tools.manager().caller(&bob_ns).unwrap();
    assert_eq!(h.tools.vault().get(&token, "upstream").await.unwrap(), None);
    let _: &MemoryVault<String> = h.tools.vault();
    alice.client.cancel().await.unwrap();
    bob.client.cancel().await.unwrap();
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

/// A `requestState` is part of the 2026-07-28 multi-round-trip flow only: a 2025-11-25
/// session that presents one (here a genuine state alice got on a 2026 session, whose
/// pending she has since completed) is refused with invalid params, and the tool does not
/// run on it. (Found by mutation testing, 2026-12-07: the revision check could go with
/// every test passing.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_state_on_a_2025_session_is_refused() {
    let h = start(Options::default()).await;
    let new = connect(
        &h,
        "alice",
        ProtocolVersion::V_2026_07_28,
        ElicitationAction::Accept,
    )
    .await;
    let (url, state) = asked(new.client.call_tool_once(call(None, None)).await.unwrap());
    assert_eq!(browser_submit(&url, "alice", "gho_alice").await, 200);
    assert_eq!(state_of(&h, &url).await, "completed");
    let old = connect(
        &h,
        "alice",
        ProtocolVersion::V_2025_11_25,
        ElicitationAction::Accept,
    )
    .await;
    let err = match old.client.call_tool_once(call(Some(state), None)).await {
        Err(e) => e.to_string(),
        Ok(r) => panic!("a 2025-11-25 session used a requestState: {r:?}"),
    };
    assert!(err.contains("not part of this protocol version"), "{err}");
    assert_eq!(h.runs.load(Ordering::SeqCst), 0, "the tool ran");
    new.client.cancel().await.unwrap();
    old.client.cancel().await.unwrap();
}
