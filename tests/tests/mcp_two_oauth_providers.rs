//! Two OAuth glues (two providers, one consent kind) in one tool, driven by a 2026-07-28
//! rmcp client: each asks in a round of its own, the first's gate passes over the second's
//! `requestState` (it names the provider), and the tool runs once, whether the glues share
//! their `StateKeys` or not. Found in review (2026-12-07): the retry with the second
//! provider's state was refused as forged (own keys) or answered "no longer exists" (shared
//! keys: the first gate looked its ids up in its own store).

mod mcp_support;
mod oauth_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use oauth_support::FakeProvider;
use oob::PendingId;
use oob::mcp::StateKeys;
use oob::mcp::rmcp::{Gate, OAuthTools, ToolCall, spec_wire};
use oob::oauth::{Consent, TokenSet};
use oob::pending::AnyPending;
use oob::provider::FromVerifiedSubject;
use oob::store::MemoryStore;
use oob::vault::MemoryVault;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientConfig, ContentBlock, ErrorData,
    ProtocolVersion,
};
use rmcp::service::{RequestContext, RoleClient, RoleServer, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use rmcp::{ClientLifecycleMode, ClientServiceExt, tool, tool_handler, tool_router};
use serde_json::{Value, json};

type Flow = OAuthTools<MemoryStore<Consent>, FromVerifiedSubject, MemoryVault<TokenSet>>;

#[derive(Clone)]
struct Two {
    github: Flow,
    google: Flow,
    runs: Arc<AtomicUsize>,
}

#[tool_router]
impl Two {
    #[tool(description = "needs a GitHub and a Google token")]
    async fn both(
        &self,
        ctx: RequestContext<RoleServer>,
        call: ToolCall,
    ) -> Result<CallToolResponse, ErrorData> {
        let gh = match self.github.access_token(&ctx, &call).await? {
            Gate::Ready(t) => t,
            Gate::Respond(r) => return Ok(r),
        };
        let go = match self.google.access_token(&ctx, &call).await? {
            Gate::Ready(t) => t,
            Gate::Respond(r) => return Ok(r),
        };
        self.runs.fetch_add(1, Ordering::SeqCst);
        Ok(CallToolResult::success(vec![ContentBlock::text(format!(
            "{}+{}",
            gh.secret(),
            go.secret()
        ))])
        .into())
    }
}

#[tool_handler]
impl rmcp::ServerHandler for Two {
    fn get_info(&self) -> rmcp::model::ServerConfig {
        rmcp::model::ServerConfig::new(
            rmcp::model::ServerCapabilities::builder()
                .enable_tools()
                .build(),
        )
    }
}

async fn consent_via_callback(
    op: &FakeProvider,
    flow: &oauth_support::Flow,
    id: PendingId,
    code: &str,
) {
    let AnyPending::Open(p) = flow.manager().get(id).await.unwrap() else {
        panic!("open")
    };
    let res = reqwest::Client::new()
        .get(format!(
            "{}?code={code}&state={}",
            op.redirect,
            oauth_support::state_of(flow, &p)
        ))
        .header("x-user", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

async fn run(same_keys: bool) -> String {
    let mut op_gh = FakeProvider::start(oauth_support::echo_token_endpoint()).await;
    let mut op_go = FakeProvider::start(oauth_support::echo_token_endpoint()).await;
    let gh = op_gh.flow_on(
        "github",
        MemoryStore::new(),
        MemoryVault::new(),
        Duration::ZERO,
    );
    let go = op_go.flow_on(
        "google",
        MemoryStore::new(),
        MemoryVault::new(),
        Duration::ZERO,
    );
    op_gh.serve_callback(&gh);
    op_go.serve_callback(&go);
    let k1 = *b"github-request-state-key-32-byte";
    let k2 = if same_keys {
        k1
    } else {
        *b"google-request-state-key-32-byte"
    };
    let runs = Arc::new(AtomicUsize::new(0));
    let server = Two {
        github: OAuthTools::new(gh.clone(), StateKeys::new(k1).unwrap())
            .configure(|t| t.accept_wait(Duration::from_millis(200))),
        google: OAuthTools::new(go.clone(), StateKeys::new(k2).unwrap())
            .configure(|t| t.accept_wait(Duration::from_millis(200))),
        runs: runs.clone(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mcp = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default().with_sse_keep_alive(None),
    );
    let app = Router::new()
        .nest_service("/mcp", mcp)
        .layer(axum::middleware::from_fn(spec_wire))
        .layer(axum::middleware::from_fn(mcp_support::authenticate));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let config: ClientConfig = serde_json::from_value(json!({"protocolVersion": "2026-07-28",
        "capabilities": {"elicitation": {"url": {}}}, "clientInfo": {"name": "t", "version": "1"}}))
    .unwrap();
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{base}/mcp")).auth_header("alice"),
    );
    let c: RunningService<RoleClient, ClientConfig> = config
        .serve_with_lifecycle(
            transport,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap();
    let accept = |name: &str| Some(json!({ name: {"action": "accept"} }));
    // Round 1: GitHub consent.
    let (name, id, state) =
        mcp_support::one_input(c.call_tool_once(params_of(None, None)).await.unwrap());
    consent_via_callback(&op_gh, &gh, id, "gh1").await;
    // Round 2: GitHub settles, Google asked.
    let (name2, id2, state2) = mcp_support::one_input(
        c.call_tool_once(params_of(Some(state), accept(&name)))
            .await
            .expect("round 2"),
    );
    consent_via_callback(&op_go, &go, id2, "go1").await;
    // Round 3: the retry with Google's state.
    let r = c
        .call_tool_once(params_of(Some(state2), accept(&name2)))
        .await;
    task.abort();
    let out = format!("{r:?}");
    assert_eq!(
        runs.load(Ordering::SeqCst),
        1,
        "the tool did not run: {out}"
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_providers_with_their_own_keys_in_one_tool() {
    let out = run(false).await;
    assert!(out.contains("tok-gh1+tok-go1"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_providers_sharing_keys_in_one_tool() {
    let out = run(true).await;
    assert!(out.contains("tok-gh1+tok-go1"), "{out}");
}

/// Params of a call of the tool `both`, with a retry's state and input responses.
fn params_of(state: Option<String>, responses: Option<Value>) -> CallToolRequestParams {
    mcp_support::call_params("both", json!({}), state, responses)
}
