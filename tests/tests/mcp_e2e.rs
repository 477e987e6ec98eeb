//! End to end over 127.0.0.1: an rmcp server with a tool that needs an upstream token, the
//! interaction (secret form) routes on the same axum router, and real rmcp clients of both
//! protocol revisions. The "browser" is a plain HTTP client with a session cookie.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use axum::extract::{FromRef, Request, State};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use oob::http::{ExtensionUser, Interaction, Interactions};
use oob::mcp::rmcp::{Gate, Need, OobTools, ToolCall, UrlAsk};
use oob::mcp::{Binding, MemoryStateGuard, StateKeys};
use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::store::MemoryStore;
use oob::vault::{MemoryVault, Vault};
use oob::{CallbackBase, Manager, Namespace, OobPayload, Spec};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientConfig, ContentBlock,
    CustomNotification, ErrorData, ProtocolVersion, ServerCapabilities, ServerConfig,
};
use rmcp::service::{NotificationContext, RequestContext, RoleClient, RoleServer, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use rmcp::{ClientHandler, ClientLifecycleMode, ClientServiceExt, ServerHandler};
use serde_json::{Value, json};
use tokio::sync::mpsc;

const KEY: [u8; 32] = *b"e2e-request-state-key-32-bytes!!";
/// A guard against a hung test, not a timing assertion.
const GUARD: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, OobPayload)]
#[oob(kind = "upstream_token", route = "/oob/token/{id}")]
struct UpstreamToken;

type Tools =
    OobTools<UpstreamToken, MemoryStore<UpstreamToken>, FromVerifiedSubject, MemoryVault<String>>;

#[derive(Clone)]
struct App {
    tools: Tools,
}

impl FromRef<App> for Interactions<UpstreamToken> {
    fn from_ref(app: &App) -> Self {
        app.tools.manager().interactions()
    }
}

#[derive(Clone)]
struct Server {
    tools: Tools,
    /// How many times the tool ran with a credential.
    runs: Arc<AtomicUsize>,
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let call = ToolCall::from_params(&request);
        let need = Need::new(
            Spec::new(UpstreamToken),
            "upstream",
            "Sign in to the upstream service.",
        );
        let token: String = match self.tools.require(&ctx, &call, need).await? {
            Gate::Ready(token) => token,
            Gate::Respond(response) => return Ok(response),
        };
        self.runs.fetch_add(1, Ordering::SeqCst);
        Ok(CallToolResult::success(vec![ContentBlock::text(format!(
            "repos listed with {token}"
        ))])
        .into())
    }
}

/// Test-only authentication: `Authorization: Bearer <user>` for MCP, `Cookie: session=<user>`
/// for the browser; both become the user's `VerifiedSubject`.
async fn authenticate(mut req: Request, next: Next) -> Response {
    if let Some(ns) = user_of(req.headers()).and_then(|u| Namespace::new(u).ok()) {
        req.extensions_mut().insert(VerifiedSubject::new(ns));
    }
    next.run(req).await
}

fn user_of(headers: &axum::http::HeaderMap) -> Option<String> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    header(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| header(axum::http::header::COOKIE).and_then(|v| v.strip_prefix("session=")))
        .map(str::to_owned)
}

async fn form_page(ix: Interaction<UpstreamToken, ExtensionUser>) -> Html<String> {
    Html(format!(
        "<form method=post action=/oob/token/{}><input name=token type=password><button>Save</button></form>",
        ix.id()
    ))
}

#[derive(serde::Deserialize)]
struct TokenForm {
    token: String,
}

async fn form_submit(
    State(app): State<App>,
    ix: Interaction<UpstreamToken, ExtensionUser>,
    Form(form): Form<TokenForm>,
) -> Response {
    let vault = app.tools.vault().clone();
    match app
        .tools
        .manager()
        .complete_with(ix.into_pending(), async move |token| {
            vault.put(&token, "upstream", form.token).await
        })
        .await
    {
        Ok(_) => Html("Saved. You can close this tab.").into_response(),
        Err(_) => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

struct Harness {
    base: String,
    tools: Tools,
    runs: Arc<AtomicUsize>,
    _shutdown: tokio_util_shutdown::Shutdown,
}

mod tokio_util_shutdown {
    /// Stops the server when dropped.
    pub(crate) struct Shutdown(pub(crate) Option<tokio::sync::oneshot::Sender<()>>);
    impl Drop for Shutdown {
        fn drop(&mut self) {
            if let Some(tx) = self.0.take() {
                let _ = tx.send(());
            }
        }
    }
}

async fn start() -> Harness {
    start_with(None).await
}

/// A server whose tools use `guard` instead of the default request-state guard.
async fn start_with(guard: Option<MemoryStateGuard>) -> Harness {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let base = format!("http://{addr}");
    let manager = Manager::builder()
        .store(MemoryStore::new())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse(&base).unwrap())
        .build();
    // The -32042 path (the in-call request is covered in mcp_flows.rs).
    let mut tools = OobTools::new(manager, MemoryVault::new(), StateKeys::new(KEY).unwrap())
        .url_ask(UrlAsk::Error);
    if let Some(guard) = guard {
        tools = tools.state_guard(guard);
    }
    let runs = Arc::new(AtomicUsize::new(0));
    let server = Server {
        tools: tools.clone(),
        runs: runs.clone(),
    };
    let mcp = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default().with_sse_keep_alive(None),
    );
    let app = Router::new()
        .route("/oob/token/{id}", get(form_page).post(form_submit))
        .with_state(App {
            tools: tools.clone(),
        })
        .nest_service("/mcp", mcp)
        .layer(axum::middleware::from_fn(authenticate));
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Harness {
        base,
        tools,
        runs,
        _shutdown: tokio_util_shutdown::Shutdown(Some(tx)),
    }
}

/// A client that records `notifications/elicitation/complete` and declares the given
/// capabilities.
#[derive(Clone)]
struct Client {
    config: ClientConfig,
    completed: mpsc::UnboundedSender<String>,
}

impl ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        self.config.clone()
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

async fn connect(
    h: &Harness,
    user: &str,
    version: ProtocolVersion,
    capabilities: Value,
) -> (
    RunningService<RoleClient, Client>,
    mpsc::UnboundedReceiver<String>,
) {
    let config: ClientConfig = serde_json::from_value(json!({
        "protocolVersion": version.as_str(),
        "capabilities": capabilities,
        "clientInfo": {"name": "e2e", "version": "1"},
    }))
    .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
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
        completed: tx,
    }
    .serve_with_lifecycle(transport, lifecycle)
    .await
    .unwrap();
    (client, rx)
}

fn call(state: Option<String>) -> CallToolRequestParams {
    let mut p = CallToolRequestParams::new("list_repos")
        .with_arguments(json!({"org": "acme"}).as_object().cloned().unwrap());
    p.request_state = state;
    p
}

/// The browser: opens the URL with the user's session cookie and submits the form.
async fn browser_submit(url: &str, user: &str, token: &str) -> u16 {
    let http = reqwest::Client::new();
    let page = http
        .get(url)
        .header("cookie", format!("session={user}"))
        .send()
        .await
        .unwrap();
    let status = page.status().as_u16();
    // A refusal, or the owner's "already done" page (200) after completion: no form.
    if !page.text().await.unwrap().contains("type=password") {
        return status;
    }
    http.post(url)
        .header("cookie", format!("session={user}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn text_of(result: &CallToolResult) -> String {
    serde_json::to_value(&result.content).unwrap().to_string()
}

fn complete(response: CallToolResponse) -> CallToolResult {
    match response {
        CallToolResponse::Complete(r) => r,
        other => panic!("expected a tool result, got {other:?}"),
    }
}

/// The `input_required` result of a tool call, as JSON.
fn input_required(response: CallToolResponse) -> Value {
    match response {
        CallToolResponse::InputRequired(r) => serde_json::to_value(&r).unwrap(),
        other => panic!("expected input_required, got {other:?}"),
    }
}

/// The URL an `input_required` result sends the user to, and its request state.
fn url_and_state(asked: &Value) -> (String, String) {
    let url = asked["inputRequests"]["upstream_token"]["params"]["url"]
        .as_str()
        .unwrap();
    let state = asked["requestState"].as_str().unwrap();
    (url.to_owned(), state.to_owned())
}

fn mcp_error(e: rmcp::ServiceError) -> ErrorData {
    match e {
        rmcp::ServiceError::McpError(e) => e,
        other => panic!("expected a JSON-RPC error, got {other}"),
    }
}

fn url_mode() -> Value {
    json!({"elicitation": {"url": {}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_2025_11_25_url_elicitation_error_notification_and_retry() {
    let h = start().await;
    let (alice, mut completed) =
        connect(&h, "alice", ProtocolVersion::V_2025_11_25, url_mode()).await;

    // The tool needs the token: -32042 with one URL elicitation whose id is the pending id.
    let err = mcp_error(alice.call_tool_once(call(None)).await.unwrap_err());
    assert_eq!(err.code.0, -32042);
    let data = err.data.unwrap();
    let e = &data["elicitations"][0];
    assert_eq!(e["mode"], "url");
    let (id, url) = (
        e["elicitationId"].as_str().unwrap().to_owned(),
        e["url"].as_str().unwrap().to_owned(),
    );
    assert_eq!(url, format!("{}/oob/token/{id}", h.base));
    assert_eq!(data["elicitations"].as_array().unwrap().len(), 1);

    // A second call joins the same pending.
    let again = mcp_error(alice.call_tool_once(call(None)).await.unwrap_err());
    assert_eq!(
        again.data.unwrap()["elicitations"][0]["elicitationId"],
        id.as_str()
    );

    // Bob is sent elsewhere, and cannot open Alice's URL in his browser.
    let (bob, _bob_completed) = connect(&h, "bob", ProtocolVersion::V_2025_11_25, url_mode()).await;
    let bob_err = mcp_error(bob.call_tool_once(call(None)).await.unwrap_err());
    assert_ne!(
        bob_err.data.unwrap()["elicitations"][0]["elicitationId"],
        id.as_str()
    );
    assert_eq!(browser_submit(&url, "bob", "gho_bob").await, 403);

    // Alice completes the form; the server notifies her client.
    assert_eq!(browser_submit(&url, "alice", "gho_alice").await, 200);
    let notified = tokio::time::timeout(GUARD, completed.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(notified, id);

    // The retry runs with Alice's token; Bob still has none.
    let ok = complete(alice.call_tool_once(call(None)).await.unwrap());
    assert_ne!(ok.is_error, Some(true));
    assert!(text_of(&ok).contains("gho_alice"));
    let bob_again = mcp_error(bob.call_tool_once(call(None)).await.unwrap_err());
    assert_eq!(bob_again.code.0, -32042);
    let bob_cx = VerifiedSubject::new(Namespace::new("bob").unwrap());
    let bob_token = h.tools.manager().caller(&bob_cx).unwrap();
    assert_eq!(
        h.tools.vault().get(&bob_token, "upstream").await.unwrap(),
        None
    );

    // The used URL is gone.
    assert_eq!(
        browser_submit(&url, "alice", "again").await,
        200,
        "already done"
    );
    alice.cancel().await.unwrap();
    bob.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_2026_07_28_input_required_and_sealed_request_state() {
    let h = start().await;
    let (alice, _) = connect(&h, "alice", ProtocolVersion::V_2026_07_28, url_mode()).await;

    let first = input_required(alice.call_tool_once(call(None)).await.unwrap());
    assert_eq!(first["resultType"], "input_required");
    assert_eq!(
        first["inputRequests"]["upstream_token"]["params"]["mode"],
        "url"
    );
    let (url, state) = url_and_state(&first);
    assert!(url.starts_with(&format!("{}/oob/token/", h.base)));

    // Retried before the user acted: input_required again.
    input_required(
        alice
            .call_tool_once(call(Some(state.clone())))
            .await
            .unwrap(),
    );

    // Tampered, other user, other params, expired: rejected.
    let mut tampered = state.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let err = mcp_error(
        alice
            .call_tool_once(call(Some(tampered)))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code.0, -32602);
    assert!(err.message.contains("failed verification"));

    let (bob, _) = connect(&h, "bob", ProtocolVersion::V_2026_07_28, url_mode()).await;
    let err = mcp_error(
        bob.call_tool_once(call(Some(state.clone())))
            .await
            .unwrap_err(),
    );
    assert!(err.message.contains("another caller"), "{}", err.message);

    let mut other = call(Some(state.clone()));
    other.arguments = json!({"org": "evil"}).as_object().cloned();
    let err = mcp_error(alice.call_tool_once(other).await.unwrap_err());
    assert!(err.message.contains("other parameters"), "{}", err.message);

    let alice_ns = Namespace::new("alice").unwrap();
    let bound = json!({"name": "list_repos", "arguments": {"org": "acme"}});
    let long_ago = SystemTime::now() - Duration::from_secs(3600);
    let expired = StateKeys::new(KEY).unwrap().seal(
        &Binding::new(&alice_ns, "tools/call", &bound),
        &[],
        long_ago,
    );
    let err = mcp_error(alice.call_tool_once(call(Some(expired))).await.unwrap_err());
    assert!(err.message.contains("expired"), "{}", err.message);

    // Alice completes the form; the retry with the state gets the result.
    assert_eq!(browser_submit(&url, "alice", "gho_alice").await, 200);
    let ok = complete(
        alice
            .call_tool_once(call(Some(state.clone())))
            .await
            .unwrap(),
    );
    assert!(text_of(&ok).contains("gho_alice"));

    // Bob, even with Alice's (valid) state, never sees her token, and without one is asked.
    let err = mcp_error(bob.call_tool_once(call(Some(state))).await.unwrap_err());
    assert!(err.message.contains("another caller"));
    // Bob is asked for his own token.
    input_required(bob.call_tool_once(call(None)).await.unwrap());
    alice.cancel().await.unwrap();
    bob.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_interaction_is_a_tool_error_on_retry() {
    let h = start().await;
    let (alice, _) = connect(&h, "alice", ProtocolVersion::V_2026_07_28, url_mode()).await;
    let (_, state) = url_and_state(&input_required(
        alice.call_tool_once(call(None)).await.unwrap(),
    ));
    let open = h
        .tools
        .manager()
        .list(&VerifiedSubject::new(Namespace::new("alice").unwrap()))
        .await
        .unwrap();
    h.tools
        .manager()
        .decline(open.into_iter().next().unwrap())
        .await
        .unwrap();
    let r = complete(alice.call_tool_once(call(Some(state))).await.unwrap());
    assert_eq!(r.is_error, Some(true));
    assert!(text_of(&r).contains("declined"));
    alice.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_without_url_mode_get_the_error_not_a_url() {
    let h = start().await;
    // 2026-07-28 declaring only form mode: -32021 naming the capability.
    let (c26, _) = connect(
        &h,
        "carol",
        ProtocolVersion::V_2026_07_28,
        json!({"elicitation": {}}),
    )
    .await;
    let err = mcp_error(c26.call_tool_once(call(None)).await.unwrap_err());
    assert_eq!(err.code.0, -32021);
    assert_eq!(
        err.data.unwrap(),
        json!({"requiredCapabilities": {"elicitation": {"url": {}}}})
    );

    // 2025-11-25 declaring no elicitation: a tool error without any URL.
    let (c25, _) = connect(&h, "dave", ProtocolVersion::V_2025_11_25, json!({})).await;
    let r = complete(c25.call_tool_once(call(None)).await.unwrap());
    assert_eq!(r.is_error, Some(true));
    let text = text_of(&r);
    assert!(
        text.contains("URL-mode elicitation") && !text.contains("http"),
        "{text}"
    );
    // No pending was created for either.
    for user in ["carol", "dave"] {
        let caller = VerifiedSubject::new(Namespace::new(user).unwrap());
        assert!(h.tools.manager().list(&caller).await.unwrap().is_empty());
    }
    c26.cancel().await.unwrap();
    c25.cancel().await.unwrap();
}

/// Asks, lets `user` complete the form in the browser, and returns the (now completed)
/// request state.
async fn completed_state(client: &RunningService<RoleClient, Client>, user: &str) -> String {
    let (url, state) = url_and_state(&input_required(
        client.call_tool_once(call(None)).await.unwrap(),
    ));
    assert_eq!(
        browser_submit(&url, user, &format!("gho_{user}")).await,
        200
    );
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_request_state_is_single_use() {
    let h = start().await;
    let (alice, _) = connect(&h, "alice", ProtocolVersion::V_2026_07_28, url_mode()).await;
    let (url, state) = url_and_state(&input_required(
        alice.call_tool_once(call(None)).await.unwrap(),
    ));

    // Retries while the pending is open are asked again and do not use the state up.
    for _ in 0..2 {
        input_required(
            alice
                .call_tool_once(call(Some(state.clone())))
                .await
                .unwrap(),
        );
    }
    assert_eq!(h.runs.load(Ordering::SeqCst), 0);

    // Completed: the retry proceeds and the tool runs once.
    assert_eq!(browser_submit(&url, "alice", "gho_alice").await, 200);
    let ok = complete(
        alice
            .call_tool_once(call(Some(state.clone())))
            .await
            .unwrap(),
    );
    assert!(text_of(&ok).contains("gho_alice"));
    assert_eq!(h.runs.load(Ordering::SeqCst), 1);

    // The same state again (same user, same params, not expired): rejected like any other
    // invalid state, and the tool does not run.
    for _ in 0..2 {
        let err = mcp_error(
            alice
                .call_tool_once(call(Some(state.clone())))
                .await
                .unwrap_err(),
        );
        assert_eq!(err.code.0, -32602);
        assert!(err.message.contains("already used"), "{}", err.message);
    }
    assert_eq!(h.runs.load(Ordering::SeqCst), 1);

    // A call without a state still finds the credential in the vault.
    let again = complete(alice.call_tool_once(call(None)).await.unwrap());
    assert!(text_of(&again).contains("gho_alice"));
    assert_eq!(h.runs.load(Ordering::SeqCst), 2);
    alice.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_with_one_completed_state_run_the_tool_once() {
    let h = start().await;
    let (bob, _) = connect(&h, "bob", ProtocolVersion::V_2026_07_28, url_mode()).await;
    let state = completed_state(&bob, "bob").await;
    let retries: Vec<_> = (0..8)
        .map(|_| {
            let (peer, state) = (bob.peer().clone(), state.clone());
            tokio::spawn(async move { peer.call_tool_once(call(Some(state))).await })
        })
        .collect();
    let (mut ok, mut replayed) = (0, 0);
    for r in retries {
        match r.await.unwrap() {
            Ok(response) => {
                assert!(text_of(&complete(response)).contains("gho_bob"));
                ok += 1;
            }
            Err(e) => {
                let e = mcp_error(e);
                assert!(e.message.contains("already used"), "{}", e.message);
                replayed += 1;
            }
        }
    }
    assert_eq!((ok, replayed), (1, 7));
    assert_eq!(h.runs.load(Ordering::SeqCst), 1);
    bob.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_state_guard_refuses_instead_of_forgetting() {
    let h = start_with(Some(MemoryStateGuard::with_capacity(0))).await;
    let (carol, _) = connect(&h, "carol", ProtocolVersion::V_2026_07_28, url_mode()).await;
    let state = completed_state(&carol, "carol").await;
    let err = mcp_error(carol.call_tool_once(call(Some(state))).await.unwrap_err());
    assert_eq!(err.code.0, -32600);
    assert!(err.message.contains("later"), "{}", err.message);
    assert_eq!(h.runs.load(Ordering::SeqCst), 0);
    carol.cancel().await.unwrap();
}
