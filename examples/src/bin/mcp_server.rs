//! An MCP server (rmcp, streamable HTTP on 127.0.0.1) with a tool, `list_repos`, that needs a
//! token for a (fake) upstream service. The token is obtained out of band through a secret
//! form served on the same axum router, stored under the caller's namespace, and never passes
//! through the MCP client. Clients of both protocol revisions are served:
//! 2025-11-25 gets the `-32042` URL elicitation and `notifications/elicitation/complete`,
//! 2026-07-28 gets `input_required` with a sealed `requestState`.
//!
//! Pendings and tokens live in SQLite (`SqliteStore`, `SqliteVault`) in a scratch directory.
//! Authentication is a demo: `Authorization: Bearer <user>` for MCP requests and
//! `Cookie: session=<user>` for the browser both mean "signed in as `<user>`"; a real service
//! verifies a token and puts the verified subject in the request extensions the same way.
//!
//! Run: `cargo run -p oob-examples --bin mcp_server` (serves until Ctrl-C).
//! Non-interactive: `cargo run -p oob-examples --bin mcp_server -- --selftest`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use oob::http::{Interactions, SessionInteraction, interaction_headers};
use oob::mcp::StateKeys;
use oob::mcp::rmcp::{Gate, Need, OobTools, ToolCall};
use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::store::SqliteStore;
use oob::vault::{SqliteVault, Vault};
use oob::{CallbackBase, Manager, Namespace, OobPayload, Spec};
use oob_examples::{BoxError, Mode, ScratchDir, bind, ensure, escape, page, random_bytes};
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
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// The interaction: a token for the upstream service, typed in a secret form.
#[derive(Debug, Clone, Serialize, Deserialize, OobPayload)]
#[oob(kind = "upstream_token", route = "/oob/token/{id}", ttl = "10m")]
struct UpstreamToken;

type Tools =
    OobTools<UpstreamToken, SqliteStore<UpstreamToken>, FromVerifiedSubject, SqliteVault<String>>;

/// The MCP server: one tool.
#[derive(Clone)]
struct Repos {
    tools: Tools,
    upstream: String,
    http: reqwest::Client,
}

impl ServerHandler for Repos {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if request.name != "list_repos" {
            return Err(ErrorData::invalid_params("unknown tool", None));
        }
        // The whole out-of-band part: require the token, or answer what the client needs.
        let call = ToolCall::from_params(&request);
        let need = Need::new(
            Spec::new(UpstreamToken),
            "upstream",
            "Sign in to the upstream service to list your repositories.",
        );
        let token: String = match self.tools.require(&ctx, &call, need).await? {
            Gate::Ready(token) => token,
            Gate::Respond(response) => return Ok(response),
        };
        // The tool's own work, with the caller's token.
        let repos: Vec<String> = self
            .http
            .get(format!("{}/upstream/repos", self.upstream))
            .bearer_auth(token)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|_| ErrorData::internal_error("upstream unavailable", None))?
            .json()
            .await
            .map_err(|_| ErrorData::internal_error("upstream answered nonsense", None))?;
        Ok(CallToolResult::success(vec![ContentBlock::text(repos.join("\n"))]).into())
    }
}

#[derive(Clone)]
struct App {
    tools: Tools,
}

impl FromRef<App> for Interactions<UpstreamToken> {
    fn from_ref(app: &App) -> Self {
        app.tools.manager().interactions()
    }
}

/// Demo authentication (see the module docs).
async fn authenticate(mut req: Request, next: Next) -> Response {
    if let Some(ns) = user_of(req.headers()).and_then(|u| Namespace::new(u).ok()) {
        req.extensions_mut().insert(VerifiedSubject::new(ns));
    }
    next.run(req).await
}

fn user_of(headers: &HeaderMap) -> Option<String> {
    let get = |name| headers.get(name).and_then(|v| v.to_str().ok());
    get(header::AUTHORIZATION)
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| get(header::COOKIE).and_then(|v| v.strip_prefix("session=")))
        .map(str::to_owned)
}

/// The secret form, only for the user who started the interaction (`SessionInteraction`).
async fn form_page(ix: SessionInteraction<UpstreamToken>) -> Html<String> {
    page(
        "Connect the upstream service",
        &format!(
            "<form method=post action=\"/oob/token/{}\"><label>Token <input name=token \
             type=password autocomplete=off></label> <button>Save</button></form>",
            escape(&ix.id().to_string())
        ),
    )
}

#[derive(Deserialize)]
struct TokenForm {
    token: String,
}

async fn form_submit(
    State(app): State<App>,
    ix: SessionInteraction<UpstreamToken>,
    Form(form): Form<TokenForm>,
) -> Response {
    if !form.token.starts_with("gho_") || form.token.len() > 200 {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            "That is not an upstream token.",
        )
            .into_response();
    }
    let vault = app.tools.vault().clone();
    let stored = app
        .tools
        .manager()
        // The persist step is `'static`: it owns its handle on the vault and the token.
        .complete_with(ix.into_pending(), async move |token| {
            vault.put(&token, "upstream", form.token).await
        })
        .await;
    match stored {
        Ok(_) => page("Connected", "<p>Saved. You can close this tab.</p>").into_response(),
        Err(e) if e.is_client_error() => {
            (StatusCode::GONE, "This request is over.").into_response()
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.").into_response(),
    }
}

/// The fake upstream service: lists repositories for any `gho_` bearer token.
async fn upstream_repos(headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token {
        Some(t) if t.starts_with("gho_") => {
            Json(vec!["acme/widgets".to_owned(), "acme/gadgets".to_owned()]).into_response()
        }
        _ => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn build(base: &str, dir: &ScratchDir) -> Result<(Router, Tools), BoxError> {
    let store = SqliteStore::open(dir.path().join("oob.sqlite3"))?;
    let vault = SqliteVault::from_store(&store);
    let manager = Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse(base)?)
        .build();
    // In production: a persistent secret from your key store, rotated with
    // `with_previous_key`.
    let keys = StateKeys::new(random_bytes::<32>()?)?.with_ttl(Duration::from_secs(600));
    let tools = OobTools::new(manager, vault, keys);
    let server = Repos {
        tools: tools.clone(),
        upstream: base.to_owned(),
        http: reqwest::Client::new(),
    };
    let mcp = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let interactions = Router::new()
        .route("/oob/token/{id}", get(form_page).post(form_submit))
        .layer(interaction_headers())
        .with_state(App {
            tools: tools.clone(),
        });
    let app = Router::new()
        .merge(interactions)
        .nest_service("/mcp", mcp)
        .layer(axum::middleware::from_fn(authenticate))
        .route("/upstream/repos", get(upstream_repos));
    Ok((app, tools))
}

#[tokio::main]
async fn main() -> ExitCode {
    let Some(mode) = oob_examples::mode("mcp_server") else {
        return ExitCode::from(2);
    };
    oob_examples::exit("mcp_server", run(mode).await)
}

async fn run(mode: Mode) -> Result<(), BoxError> {
    let dir = ScratchDir::new("mcp-server")?;
    let (listener, base) = bind().await?;
    let (app, tools) = build(&base, &dir).await?;
    let _sweeper = tools.manager().spawn_sweeper(Duration::from_secs(60));
    oob_examples::spawn_server(listener, app);
    if mode == Mode::Selftest {
        return selftest(&base, &tools).await;
    }
    println!("MCP endpoint: {base}/mcp  (send `Authorization: Bearer <your name>`)");
    println!("Tool: list_repos. Open the URL it elicits with the cookie `session=<your name>`.");
    oob_examples::until_ctrl_c().await;
    Ok(())
}

// ----- self-test: real rmcp clients of both revisions, a browser made of reqwest -----

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

type Connected = (
    RunningService<RoleClient, Client>,
    mpsc::UnboundedReceiver<String>,
);

async fn connect(base: &str, user: &str, version: ProtocolVersion) -> Result<Connected, BoxError> {
    let config: ClientConfig = serde_json::from_value(json!({
        "protocolVersion": version.as_str(),
        "capabilities": {"elicitation": {"url": {}}},
        "clientInfo": {"name": "selftest", "version": "1"},
    }))?;
    let (tx, rx) = mpsc::unbounded_channel();
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{base}/mcp")).auth_header(user),
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
    .await?;
    Ok((client, rx))
}

fn list_repos(state: Option<String>) -> CallToolRequestParams {
    let mut p = CallToolRequestParams::new("list_repos");
    p.request_state = state;
    p
}

async fn browser(url: &str, user: &str, token: &str) -> Result<StatusCode, BoxError> {
    let http = oob_examples::client()?;
    let cookie = format!("session={user}");
    let form = http.get(url).header("cookie", &cookie).send().await?;
    if !form.status().is_success() {
        return Ok(form.status());
    }
    let res = http
        .post(url)
        .header("cookie", &cookie)
        .form(&[("token", token)])
        .send()
        .await?;
    Ok(res.status())
}

fn text(response: CallToolResponse) -> Result<String, BoxError> {
    match response {
        CallToolResponse::Complete(r) if r.is_error != Some(true) => {
            Ok(serde_json::to_value(&r.content)?.to_string())
        }
        other => Err(format!("expected a tool result, got {other:?}").into()),
    }
}

async fn selftest(base: &str, tools: &Tools) -> Result<(), BoxError> {
    // Revision 2025-11-25: -32042, the form, the completion notification, the retry.
    let (alice, mut completed) = connect(base, "alice", ProtocolVersion::V_2025_11_25).await?;
    let err = match alice.call_tool_once(list_repos(None)).await {
        Err(rmcp::ServiceError::McpError(e)) => e,
        other => return Err(format!("expected -32042, got {other:?}").into()),
    };
    ensure(err.code.0 == -32042, "2025-11-25: -32042")?;
    let data: Value = err.data.ok_or("no error data")?;
    let elicitation = &data["elicitations"][0];
    let url = elicitation["url"].as_str().ok_or("no url")?.to_owned();
    let id = elicitation["elicitationId"]
        .as_str()
        .ok_or("no id")?
        .to_owned();
    ensure(
        url.ends_with(&id),
        "the URL carries the elicitation id and nothing else",
    )?;
    println!("2025-11-25: -32042 with {url}");
    ensure(
        browser(&url, "mallory", "gho_x").await? == StatusCode::FORBIDDEN,
        "another user cannot open the form",
    )?;
    ensure(
        browser(&url, "alice", "gho_alice").await? == StatusCode::OK,
        "form saved",
    )?;
    let notified = tokio::time::timeout(Duration::from_secs(30), completed.recv())
        .await?
        .ok_or("no completion notification")?;
    ensure(notified == id, "notification names the elicitation")?;
    println!("2025-11-25: notifications/elicitation/complete for {notified}");
    let out = text(alice.call_tool_once(list_repos(None)).await?)?;
    ensure(out.contains("acme/widgets"), "tool result after the retry")?;
    println!("2025-11-25: list_repos -> {out}");
    alice.cancel().await?;

    // Revision 2026-07-28: input_required, the form, the retry with requestState.
    let (bob, _) = connect(base, "bob", ProtocolVersion::V_2026_07_28).await?;
    let CallToolResponse::InputRequired(ask) = bob.call_tool_once(list_repos(None)).await? else {
        return Err("2026-07-28: expected input_required".into());
    };
    let ask = serde_json::to_value(&ask)?;
    let url = ask["inputRequests"]["upstream_token"]["params"]["url"]
        .as_str()
        .ok_or("no url")?
        .to_owned();
    let state = ask["requestState"]
        .as_str()
        .ok_or("no requestState")?
        .to_owned();
    println!("2026-07-28: input_required with {url}");
    let mut forged = state.clone();
    forged.insert(10, 'x');
    ensure(
        bob.call_tool_once(list_repos(Some(forged))).await.is_err(),
        "a tampered requestState is rejected",
    )?;
    ensure(
        browser(&url, "bob", "gho_bob").await? == StatusCode::OK,
        "form saved",
    )?;
    let out = text(bob.call_tool_once(list_repos(Some(state))).await?)?;
    ensure(out.contains("acme/gadgets"), "tool result after the retry")?;
    println!("2026-07-28: list_repos -> {out}");
    bob.cancel().await?;

    // Each token lives under its own user's namespace only: read back as each signed-in
    // user, with that user's own capability.
    let (manager, vault) = (tools.manager(), tools.vault());
    let mut stored = Vec::new();
    for name in ["alice", "bob", "mallory"] {
        let user = VerifiedSubject::new(Namespace::new(name)?);
        stored.push(vault.get(&manager.caller(&user)?, "upstream").await?);
    }
    ensure(
        stored
            == [
                Some("gho_alice".to_owned()),
                Some("gho_bob".to_owned()),
                None,
            ],
        "tokens stored per namespace",
    )?;
    println!("selftest ok");
    Ok(())
}
