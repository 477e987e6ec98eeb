//! An rmcp server whose tool is written by hand as `ServerHandler::call_tool` (no
//! `spec_wire`, no session binding), asking with -32042 on revision 2025-11-25, and the
//! interaction's form page and submit route on the same router; the browser that fills the
//! form in.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{FromRef, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use oob::http::{ExtensionUser, Interaction, Interactions};
use oob::mcp::rmcp::{Gate, Need, OobTools, ToolCall, UrlAsk};
use oob::mcp::{MemoryStateGuard, StateKeys};
use oob::provider::FromVerifiedSubject;
use oob::store::MemoryStore;
use oob::vault::{MemoryVault, Vault};
use oob::{CallbackBase, Manager, Spec};
use rmcp::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorData,
    ServerCapabilities, ServerConfig,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};

use crate::mcp_support::{KEY, Stop, Tools, UpstreamToken, authenticate};

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

/// A running server: where, its tools, and how many times its tool ran.
pub(crate) struct Harness {
    pub(crate) base: String,
    pub(crate) tools: Tools,
    pub(crate) runs: Arc<AtomicUsize>,
    _stop: Stop,
}

pub(crate) async fn start() -> Harness {
    start_with(None).await
}

/// A server whose tools use `guard` instead of the default request-state guard.
pub(crate) async fn start_with(guard: Option<MemoryStateGuard>) -> Harness {
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
        _stop: Stop(Some(tx)),
    }
}

/// The browser: opens the URL with the user's session cookie and submits the form.
pub(crate) async fn browser_submit(url: &str, user: &str, token: &str) -> u16 {
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
