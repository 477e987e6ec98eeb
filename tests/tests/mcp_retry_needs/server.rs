//! The server: one tool per case (two needs, two glues, `Parameters` before `ToolCall`, one
//! need) behind `bind_sessions`, with or without `spec_wire`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use oob::mcp::rmcp::{Gate, Need, OobTools, SessionOwners, ToolCall, bind_sessions, spec_wire};
use oob::mcp::{MemoryStateGuard, StateKeys};
use oob::provider::FromVerifiedSubject;
use oob::store::MemoryStore;
use oob::vault::MemoryVault;
use oob::{CallbackBase, Manager, Spec};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock, ErrorData, JsonObject};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use rmcp::{tool, tool_handler, tool_router};
use serde_json::Value;

use crate::mcp_support::{Tools, UpstreamToken, authenticate};

/// A second kind, asked by a second glue with keys of its own.
#[derive(Debug, Clone, oob::OobPayload)]
#[oob(kind = "other_token", route = "/oob/other/{id}")]
pub(crate) struct OtherToken;

pub(crate) type Other =
    OobTools<OtherToken, MemoryStore<OtherToken>, FromVerifiedSubject, MemoryVault<String>>;

#[derive(Clone)]
pub(crate) struct Probe {
    pub(crate) tools: Tools,
    pub(crate) other: Other,
    pub(crate) runs: Arc<AtomicUsize>,
}

async fn gate(
    tools: &Tools,
    ctx: &RequestContext<RoleServer>,
    call: &ToolCall,
    alias: Option<&'static str>,
    key: &str,
) -> Result<Result<String, CallToolResponse>, ErrorData> {
    let spec = match alias {
        Some(alias) => Spec::new(UpstreamToken).alias(alias),
        None => Spec::new(UpstreamToken),
    };
    Ok(
        match tools.require(ctx, call, Need::new(spec, key, "m")).await? {
            Gate::Ready(v) => Ok(v),
            Gate::Respond(r) => Err(r),
        },
    )
}

#[tool_router]
impl Probe {
    #[tool(description = "needs two credentials")]
    async fn two_needs(
        &self,
        ctx: RequestContext<RoleServer>,
        call: ToolCall,
    ) -> Result<CallToolResponse, ErrorData> {
        let a = match gate(&self.tools, &ctx, &call, Some("a"), "a").await? {
            Ok(v) => v,
            Err(r) => return Ok(r),
        };
        let b = match gate(&self.tools, &ctx, &call, Some("b"), "b").await? {
            Ok(v) => v,
            Err(r) => return Ok(r),
        };
        self.runs.fetch_add(1, Ordering::SeqCst);
        Ok(CallToolResult::success(vec![ContentBlock::text(format!("{a}+{b}"))]).into())
    }

    #[tool(description = "needs a credential of each of two glues")]
    async fn two_glues(
        &self,
        ctx: RequestContext<RoleServer>,
        call: ToolCall,
    ) -> Result<CallToolResponse, ErrorData> {
        let a = match gate(&self.tools, &ctx, &call, Some("a"), "a").await? {
            Ok(v) => v,
            Err(r) => return Ok(r),
        };
        let need = Need::new(Spec::new(OtherToken).alias("b"), "b", "m");
        let b: String = match self.other.require(&ctx, &call, need).await? {
            Gate::Ready(v) => v,
            Gate::Respond(r) => return Ok(r),
        };
        self.runs.fetch_add(1, Ordering::SeqCst);
        Ok(CallToolResult::success(vec![ContentBlock::text(format!("{a}+{b}"))]).into())
    }

    #[tool(description = "Parameters extractor before ToolCall")]
    async fn param_first(
        &self,
        Parameters(args): Parameters<JsonObject>,
        ctx: RequestContext<RoleServer>,
        call: ToolCall,
    ) -> Result<CallToolResponse, ErrorData> {
        let token = match gate(&self.tools, &ctx, &call, None, "upstream").await? {
            Ok(v) => v,
            Err(r) => return Ok(r),
        };
        self.runs.fetch_add(1, Ordering::SeqCst);
        let org = args.get("org").cloned().unwrap_or(Value::Null);
        Ok(
            CallToolResult::success(vec![ContentBlock::text(format!("org={org} token={token}"))])
                .into(),
        )
    }

    #[tool(description = "one credential")]
    async fn one_need(
        &self,
        ctx: RequestContext<RoleServer>,
        call: ToolCall,
    ) -> Result<CallToolResponse, ErrorData> {
        let token = match gate(&self.tools, &ctx, &call, None, "upstream").await? {
            Ok(v) => v,
            Err(r) => return Ok(r),
        };
        self.runs.fetch_add(1, Ordering::SeqCst);
        Ok(CallToolResult::success(vec![ContentBlock::text(token)]).into())
    }
}

#[tool_handler]
impl rmcp::ServerHandler for Probe {
    fn get_info(&self) -> rmcp::model::ServerConfig {
        rmcp::model::ServerConfig::new(
            rmcp::model::ServerCapabilities::builder()
                .enable_tools()
                .build(),
        )
    }
}

pub(crate) struct Srv {
    pub(crate) base: String,
    pub(crate) tools: Tools,
    pub(crate) other: Other,
    pub(crate) runs: Arc<AtomicUsize>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub(crate) const KEY: [u8; 32] = *b"probe-request-state-key-32-bytes";

/// How the streamable-HTTP handler is served: behind the `spec_wire` middleware or not.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wire {
    Middleware,
    Bare,
}

pub(crate) async fn serve(keys: StateKeys, accept_wait: Duration, guard: MemoryStateGuard) -> Srv {
    serve_on(keys, accept_wait, guard, Wire::Middleware).await
}

pub(crate) async fn serve_on(
    keys: StateKeys,
    accept_wait: Duration,
    guard: MemoryStateGuard,
    wire: Wire,
) -> Srv {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let manager = Manager::builder()
        .store(MemoryStore::new())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse(&base).unwrap())
        .build();
    let tools = OobTools::new(manager, MemoryVault::new(), keys)
        .accept_wait(accept_wait)
        .state_guard(guard);
    let other_manager = Manager::builder()
        .store(MemoryStore::new())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse(&base).unwrap())
        .build();
    let other = OobTools::new(
        other_manager,
        MemoryVault::new(),
        StateKeys::new(*b"other-glue-request-state-key-32b").unwrap(),
    )
    .accept_wait(accept_wait);
    let runs = Arc::new(AtomicUsize::new(0));
    let server = Probe {
        tools: tools.clone(),
        other: other.clone(),
        runs: runs.clone(),
    };
    let mcp = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default().with_sse_keep_alive(None),
    );
    let mut app = Router::new().nest_service("/mcp", mcp);
    if wire == Wire::Middleware {
        app = app.layer(axum::middleware::from_fn(spec_wire));
    }
    let app = app
        .layer(axum::middleware::from_fn_with_state(
            SessionOwners::new(),
            bind_sessions,
        ))
        .layer(axum::middleware::from_fn(authenticate));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Srv {
        base,
        tools,
        other,
        runs,
        _stop: tx,
    }
}
