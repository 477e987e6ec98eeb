//! An rmcp server on 127.0.0.1 the way a service writes it with oob: a `#[tool_router]`
//! tool using the `ToolCall` extractor, served through `SpecWire`, sessions bound to their
//! user with `bind_sessions`, and the interaction route on the same router. Shared by the
//! MCP test files (each uses part of it).
#![allow(dead_code, unreachable_pub)]

pub mod client;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Router};
use oob::mcp::StateKeys;
use oob::mcp::rmcp::{
    Gate, Need, OobTools, SessionOwners, ToolCall, UrlAsk, bind_sessions, spec_wire,
};
use oob::pending::AnyPending;
use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::store::MemoryStore;
use oob::vault::{MemoryVault, Vault};
use oob::{CallbackBase, Manager, Namespace, OobPayload, PendingId, Spec};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock, ErrorData};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use rmcp::{tool, tool_handler, tool_router};

pub const KEY: [u8; 32] = *b"e2e-request-state-key-32-bytes!!";

#[derive(Debug, Clone, OobPayload)]
#[oob(kind = "upstream_token", route = "/oob/token/{id}")]
pub struct UpstreamToken;

pub type Tools<V = MemoryVault<String>> =
    OobTools<UpstreamToken, MemoryStore<UpstreamToken>, FromVerifiedSubject, V>;

#[derive(Clone)]
pub struct Repos<V: Clone + Send + Sync + 'static = MemoryVault<String>> {
    pub tools: Tools<V>,
    pub runs: Arc<AtomicUsize>,
    tool_router: ToolRouter<Self>,
}

#[tool_router]
impl<V: Vault<String> + Clone + Send + Sync + 'static> Repos<V> {
    pub fn new(tools: Tools<V>, runs: Arc<AtomicUsize>) -> Self {
        Self {
            tools,
            runs,
            tool_router: Self::tool_router(),
        }
    }

    #[tool(description = "List the caller's repositories on the upstream service")]
    async fn list_repos(
        &self,
        ctx: RequestContext<RoleServer>,
        call: ToolCall,
    ) -> Result<CallToolResponse, ErrorData> {
        let need = Need::new(
            Spec::new(UpstreamToken),
            "upstream",
            "Sign in to the upstream service to list your repositories.",
        );
        let token: String = match self.tools.require(&ctx, &call, need).await? {
            Gate::Ready(token) => token,
            Gate::Respond(response) => return Ok(response),
        };
        self.runs.fetch_add(1, Ordering::SeqCst);
        Ok(CallToolResult::success(vec![ContentBlock::text(format!(
            "acme/widgets, acme/gadgets (listed with {token})"
        ))])
        .into())
    }
}

#[tool_handler]
impl<V: Vault<String> + Clone + Send + Sync + 'static> rmcp::ServerHandler for Repos<V> {
    fn get_info(&self) -> rmcp::model::ServerConfig {
        rmcp::model::ServerConfig::new(
            rmcp::model::ServerCapabilities::builder()
                .enable_tools()
                .build(),
        )
    }
}

/// Test authentication: `Authorization: Bearer <user>` for MCP, `Cookie: session=<user>` for
/// the browser; both become the user's `VerifiedSubject`.
pub async fn authenticate(mut req: Request, next: Next) -> Response {
    let headers = req.headers();
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let user = header(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| header(axum::http::header::COOKIE).and_then(|v| v.strip_prefix("session=")))
        .map(str::to_owned);
    if let Some(ns) = user.and_then(|u| Namespace::new(u).ok()) {
        req.extensions_mut().insert(VerifiedSubject::new(ns));
    }
    next.run(req).await
}

#[derive(serde::Deserialize)]
struct TokenForm {
    token: String,
}

/// The browser step: the signed-in owner of the pending submits the token.
async fn submit<V: Vault<String> + Clone + Send + Sync + 'static>(
    State(tools): State<Tools<V>>,
    Path(id): Path<String>,
    subject: Option<axum::Extension<VerifiedSubject>>,
    Form(form): Form<TokenForm>,
) -> Response {
    let Ok(id) = id.parse::<PendingId>() else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let Ok(pending) = tools.manager().get(id).await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if subject.map(|s| s.0.namespace().clone()).as_ref() != Some(pending.namespace()) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let AnyPending::Open(open) = pending else {
        return StatusCode::GONE.into_response();
    };
    let vault = tools.vault().clone();
    match tools
        .manager()
        .complete_with(open, async move |token| {
            vault.put(&token, "upstream", form.token).await
        })
        .await
    {
        Ok(_) => "Saved. You can close this tab.".into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

pub struct Options {
    pub url_ask: UrlAsk,
    pub accept_wait: Duration,
    /// `ManagerBuilder::max_creates_per_namespace(n, 60 s)`, when given.
    pub creates_per_minute: Option<std::num::NonZeroU32>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            url_ask: UrlAsk::Request,
            accept_wait: Duration::from_secs(15),
            creates_per_minute: None,
        }
    }
}

pub struct Harness<V: Clone + Send + Sync + 'static = MemoryVault<String>> {
    pub base: String,
    pub tools: Tools<V>,
    pub runs: Arc<AtomicUsize>,
    pub owners: SessionOwners,
    _stop: Stop,
}

/// Stops a server when dropped.
pub struct Stop(pub Option<tokio::sync::oneshot::Sender<()>>);

impl Drop for Stop {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

pub async fn start(options: Options) -> Harness {
    start_with_vault(options, MemoryVault::new()).await
}

pub async fn start_with_vault<V: Vault<String> + Clone + Send + Sync + 'static>(
    options: Options,
    vault: V,
) -> Harness<V> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut manager = Manager::builder()
        .store(MemoryStore::new())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse(&base).unwrap());
    if let Some(n) = options.creates_per_minute {
        manager = manager.max_creates_per_namespace(n, Duration::from_secs(60));
    }
    let manager = manager.build();
    let tools = OobTools::new(manager, vault, StateKeys::new(KEY).unwrap())
        .url_ask(options.url_ask)
        .accept_wait(options.accept_wait);
    let runs = Arc::new(AtomicUsize::new(0));
    let server = Repos::new(tools.clone(), runs.clone());
    let mcp = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default().with_sse_keep_alive(None),
    );
    let owners = SessionOwners::new();
    let mcp = Router::new()
        .nest_service("/mcp", mcp)
        .layer(axum::middleware::from_fn(spec_wire))
        .layer(axum::middleware::from_fn_with_state(
            owners.clone(),
            bind_sessions,
        ));
    let app = Router::new()
        .route("/oob/token/{id}", post(submit::<V>))
        .with_state(tools.clone())
        .merge(mcp)
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
        owners,
        _stop: Stop(Some(tx)),
    }
}

/// The browser: submits the form at `url` as `user`; the HTTP status.
pub async fn browser_submit(url: &str, user: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .post(url)
        .header("cookie", format!("session={user}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The outcome of `user`'s only pending (asserting there is exactly one).
pub async fn only_pending(
    h: &Harness<impl Clone + Send + Sync + 'static>,
    id: &str,
) -> AnyPending<UpstreamToken> {
    h.tools.manager().get(id.parse().unwrap()).await.unwrap()
}

/// Params of a `tools/call` of `tool` with `args` (an object), carrying a retry's
/// `requestState` and `inputResponses` when given.
pub fn call_params(
    tool: &str,
    args: serde_json::Value,
    state: Option<String>,
    responses: Option<serde_json::Value>,
) -> rmcp::model::CallToolRequestParams {
    let mut p = rmcp::model::CallToolRequestParams::new(tool.to_owned())
        .with_arguments(args.as_object().cloned().unwrap());
    p.request_state = state;
    p.input_responses = responses.map(|r| serde_json::from_value(r).unwrap());
    p
}

/// The input requests (name, URL) and the state of an `input_required` answer.
pub fn input_requests(response: rmcp::model::CallToolResponse) -> (Vec<(String, String)>, String) {
    let CallToolResponse::InputRequired(r) = response else {
        panic!("expected input_required, got {response:?}")
    };
    let v = serde_json::to_value(&r).unwrap();
    let reqs = v["inputRequests"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, r)| (k.clone(), r["params"]["url"].as_str().unwrap().to_owned()))
        .collect();
    (reqs, v["requestState"].as_str().unwrap().to_owned())
}

/// The one input request of an `input_required` answer: its name, its pending's id (the
/// URL's last segment), and the state.
pub fn one_input(response: rmcp::model::CallToolResponse) -> (String, PendingId, String) {
    let (mut reqs, state) = input_requests(response);
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    let (name, url) = reqs.remove(0);
    let id = url.rsplit('/').next().unwrap().parse().unwrap();
    (name, id, state)
}
