//! A tool that needs an OAuth access token (`OAuthTools::access_token`) and another
//! credential (`OobTools::require`) in one call, driven by a 2026-07-28 rmcp client: each
//! gate asks in a round of its own, each round's state is used up once, and the tool runs
//! once (hostile review, 2026-12-07). The provider is a fake token endpoint on loopback.

mod mcp_support;
mod oauth_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use mcp_support::{UpstreamToken, authenticate};
use oauth_support::{FakeProvider, echo_token_endpoint, state_of};
use oob::mcp::StateKeys;
use oob::mcp::rmcp::{Gate, Need, OAuthTools, OobTools, ToolCall, spec_wire};
use oob::oauth::{Consent, TokenSet};
use oob::pending::AnyPending;
use oob::provider::FromVerifiedSubject;
use oob::store::MemoryStore;
use oob::vault::{MemoryVault, Vault};
use oob::{CallbackBase, Manager, Spec};
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

const KEY: [u8; 32] = *b"oauth-request-state-key-32-byte!";

type Tools =
    OobTools<UpstreamToken, MemoryStore<UpstreamToken>, FromVerifiedSubject, MemoryVault<String>>;
type Flow = OAuthTools<MemoryStore<Consent>, FromVerifiedSubject, MemoryVault<TokenSet>>;

#[derive(Clone)]
struct Both {
    github: Flow,
    tools: Tools,
    runs: Arc<AtomicUsize>,
}

#[tool_router]
impl Both {
    #[tool(description = "needs a GitHub token and an upstream token")]
    async fn both(
        &self,
        ctx: RequestContext<RoleServer>,
        call: ToolCall,
    ) -> Result<CallToolResponse, ErrorData> {
        let github = match self.github.access_token(&ctx, &call).await? {
            Gate::Ready(token) => token,
            Gate::Respond(r) => return Ok(r),
        };
        let need = Need::new(Spec::new(UpstreamToken), "upstream", "Sign in upstream.");
        let upstream: String = match self.tools.require(&ctx, &call, need).await? {
            Gate::Ready(v) => v,
            Gate::Respond(r) => return Ok(r),
        };
        self.runs.fetch_add(1, Ordering::SeqCst);
        Ok(CallToolResult::success(vec![ContentBlock::text(format!(
            "{}+{upstream}",
            github.secret()
        ))])
        .into())
    }
}

#[tool_handler]
impl rmcp::ServerHandler for Both {
    fn get_info(&self) -> rmcp::model::ServerConfig {
        rmcp::model::ServerConfig::new(
            rmcp::model::ServerCapabilities::builder()
                .enable_tools()
                .build(),
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_token_and_another_credential_in_one_tool_call() {
    let mut op = FakeProvider::start(echo_token_endpoint()).await;
    let oauth = op.flow(MemoryVault::new());
    op.serve_callback(&oauth);
    let github = OAuthTools::new(oauth.clone(), StateKeys::new(KEY).unwrap())
        .configure(|t| t.accept_wait(Duration::from_millis(200)));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let manager = Manager::builder()
        .store(MemoryStore::new())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse(&base).unwrap())
        .build();
    let tools = OobTools::new(manager, MemoryVault::new(), StateKeys::new(KEY).unwrap())
        .accept_wait(Duration::from_millis(200));
    let runs = Arc::new(AtomicUsize::new(0));
    let server = Both {
        github,
        tools: tools.clone(),
        runs: runs.clone(),
    };
    let mcp = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default().with_sse_keep_alive(None),
    );
    let app = Router::new()
        .nest_service("/mcp", mcp)
        .layer(axum::middleware::from_fn(spec_wire))
        .layer(axum::middleware::from_fn(authenticate));
    let server_task = tokio::spawn(async move {
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

    // Round 1: the consent.
    let (name, consent, state) =
        mcp_support::one_input(c.call_tool_once(params_of(None, None)).await.unwrap());
    let AnyPending::Open(pending) = oauth.manager().get(consent).await.unwrap() else {
        panic!("the consent is open")
    };
    let callback = format!(
        "{}?code=c1&state={}",
        op.redirect,
        state_of(&oauth, &pending)
    );
    let res = reqwest::Client::new()
        .get(callback)
        .header("x-user", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // Round 2: the consent completed; the upstream token is asked in the same answer.
    let accept = |name: &str| Some(json!({ name: {"action": "accept"} }));
    let r = c
        .call_tool_once(params_of(Some(state), accept(&name)))
        .await
        .expect("the second gate asks instead of rejecting the state");
    let (name, upstream, state) = mcp_support::one_input(r);
    assert_eq!(name, "upstream_token");
    assert_eq!(runs.load(Ordering::SeqCst), 0);
    let AnyPending::Open(open) = tools.manager().get(upstream).await.unwrap() else {
        panic!("the upstream pending is open")
    };
    let vault = tools.vault().clone();
    tools
        .manager()
        .complete_with(open, async move |token| {
            vault.put(&token, "upstream", "tok_up".to_owned()).await
        })
        .await
        .unwrap();

    // Round 3: the OAuth gate skips the upstream state (not its own), the upstream gate
    // uses it up; the tool runs once.
    let r = c
        .call_tool_once(params_of(Some(state.clone()), accept(&name)))
        .await
        .unwrap();
    let CallToolResponse::Complete(done) = r else {
        panic!("expected a result, got {r:?}")
    };
    assert_ne!(done.is_error, Some(true), "{done:?}");
    let text = serde_json::to_string(&done.content).unwrap();
    assert!(text.contains("tok-c1+tok_up"), "{text}");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let replay = c
        .call_tool_once(params_of(Some(state), accept(&name)))
        .await;
    assert!(format!("{replay:?}").contains("already used"), "{replay:?}");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    server_task.abort();
}

/// Params of a call of the tool `both`, with a retry's state and input responses.
fn params_of(state: Option<String>, responses: Option<Value>) -> CallToolRequestParams {
    mcp_support::call_params("both", json!({}), state, responses)
}
