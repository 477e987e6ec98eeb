//! An MCP server (rmcp, streamable HTTP on 127.0.0.1) with a tool, `list_repos`, that needs a
//! token for a (fake) upstream service. The token is obtained out of band through a secret
//! form served on the same axum router, stored under the caller's namespace, and never passes
//! through the MCP client. Clients of both protocol revisions are served:
//! 2025-11-25 is asked in the call (URL-mode `elicitation/create`; `-32042` and
//! `notifications/elicitation/complete` if the browser step outlasts the wait),
//! 2026-07-28 gets `input_required` with a sealed `requestState`. `tools/list` offers the tool;
//! a user's decline or cancel ends the interaction and the model is told so.
//!
//! Pendings and tokens live in SQLite (`SqliteStore`, `SqliteVault`) in a scratch directory.
//! Authentication is a demo: `Authorization: Bearer <user>` for MCP requests and
//! `Cookie: session=<user>` for the browser both mean "signed in as `<user>`"; a real service
//! verifies a token and puts the verified subject in the request extensions the same way.
//!
//! Run: `cargo run -p oob-examples --bin mcp_server` (serves until Ctrl-C).
//! Non-interactive: `cargo run -p oob-examples --bin mcp_server -- --selftest`.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use oob::http::{AntiForgery, ExtensionUser, Interaction, Interactions, interaction_headers};
use oob::mcp::StateKeys;
use oob::mcp::rmcp::{Gate, Need, OobTools, SessionOwners, ToolCall, bind_sessions, spec_wire};
use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::store::SqliteStore;
use oob::vault::{SqliteVault, Vault};
use oob::{CallbackBase, Manager, Namespace, OobPayload, Spec};
use oob_examples::{
    BoxError, Mode, between, bind, ensure, escape, page, random_bytes, scratch_dir,
};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientConfig, ContentBlock,
    CustomNotification, ElicitRequestParams, ElicitResult, ElicitationAction, ErrorData,
    ProtocolVersion,
};
use rmcp::service::{NotificationContext, RequestContext, RoleClient, RoleServer, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use rmcp::{ClientHandler, ClientLifecycleMode, ClientServiceExt, tool, tool_router};
use serde::{Deserialize, Serialize};
use serde_json::json;
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

// `tools/list` offers the tool to the model; `ToolCall` is what oob binds a `requestState` to.
#[tool_router(server_handler)]
impl Repos {
    #[tool(
        description = "List your repositories on the upstream service. The first time, \
                          you are asked to connect the service in your browser."
    )]
    async fn list_repos(
        &self,
        ctx: RequestContext<RoleServer>,
        call: ToolCall,
    ) -> Result<CallToolResponse, ErrorData> {
        // The whole out-of-band part: require the token, or answer what the client needs.
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
    forms: AntiForgery,
}

/// The pending, checked to belong to the user the demo authentication signed in (a
/// `VerifiedSubject` in the request extensions): 403 for anyone else whatever its state.
type Owned = Interaction<UpstreamToken, ExtensionUser>;

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

/// The secret form, only for the user who started the interaction, with an anti-forgery
/// token bound to the pending and that user.
async fn form_page(State(app): State<App>, ix: Owned) -> Html<String> {
    page(
        "Connect the upstream service",
        &format!(
            "<form method=post action=\"/oob/token/{}\">\
             <input type=hidden name={} value=\"{}\"><label>Token <input name=token \
             type=password autocomplete=off></label> <button>Save</button></form>",
            escape(&ix.id().to_string()),
            AntiForgery::FIELD,
            escape(&app.forms.token(&ix)),
        ),
    )
}

#[derive(Deserialize)]
struct TokenForm {
    token: String,
    #[serde(default, rename = "oob_csrf")]
    csrf: String,
}

async fn form_submit(State(app): State<App>, ix: Owned, Form(form): Form<TokenForm>) -> Response {
    if let Err(refused) = app.forms.verify(&ix, &form.csrf) {
        return refused.into_response();
    }
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
        // A second submit: "already saved" (200); cancelled or expired: 410; a store
        // failure: a generic 500. Fixed pages with a next step.
        Err(e) => oob::http::InteractionRejection::from(e).into_response(),
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

async fn build(base: &str, dir: &Path) -> Result<(Router, Tools), BoxError> {
    let store = SqliteStore::open(dir.join("oob.sqlite3"))?;
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
            forms: AntiForgery::generate()?,
        });
    // `input_required` exactly as 2026-07-28 defines it; each MCP session usable only by the
    // user who opened it (inside `authenticate`, which runs first).
    let mcp = Router::new()
        .nest_service("/mcp", mcp)
        .layer(axum::middleware::from_fn(spec_wire))
        .layer(axum::middleware::from_fn_with_state(
            SessionOwners::new(),
            bind_sessions,
        ));
    let app = Router::new()
        .merge(interactions)
        .merge(mcp)
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
    // Removed when `run` returns: after the self-test, Ctrl-C or SIGTERM.
    let dir = scratch_dir("mcp-server")?;
    let (listener, base) = bind().await?;
    let (app, tools) = build(&base, dir.path()).await?;
    let _sweeper = tools.manager().spawn_sweeper(Duration::from_secs(60));
    let server = oob_examples::spawn_server(listener, app);
    if mode == Mode::Selftest {
        return selftest(&base, &tools).await;
    }
    println!("MCP endpoint: {base}/mcp  (send `Authorization: Bearer <your name>`)");
    println!("Tool: list_repos. Open the URL it elicits with the cookie `session=<your name>`.");
    println!("(Ctrl-C or SIGTERM to stop)");
    server.await?;
    Ok(())
}

// ----- self-test: real rmcp clients of both revisions, a browser made of reqwest -----

#[derive(Clone)]
struct Client {
    config: ClientConfig,
    /// The URLs the server asked the user to open, and the completion notifications' ids.
    events: mpsc::UnboundedSender<String>,
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
        // The user agrees to open the URL (and does so in `selftest`'s browser).
        if let ElicitRequestParams::UrlElicitationParams { url, .. } = request {
            let _ = self.events.send(url);
        }
        Ok(ElicitResult::new(ElicitationAction::Accept))
    }

    async fn on_custom_notification(
        &self,
        n: CustomNotification,
        _cx: NotificationContext<RoleClient>,
    ) {
        if n.method == "notifications/elicitation/complete"
            && let Some(id) = n.params.as_ref().and_then(|p| p["elicitationId"].as_str())
        {
            let _ = self.events.send(id.to_owned());
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
    let client = Client { config, events: tx }
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
    let status = form.status();
    let html = form.text().await?;
    let field = format!("name={} value=\"", AntiForgery::FIELD);
    // A refusal, or the owner's "already saved" page after completion: no form.
    let Some(csrf) = between(&html, &field, "\"") else {
        return Ok(status);
    };
    let res = http
        .post(url)
        .header("cookie", &cookie)
        .form(&[("token", token), (AntiForgery::FIELD, csrf)])
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
    // Revision 2025-11-25: the tool is listed; the call asks the user in the call
    // (URL-mode elicitation/create), the user accepts and completes the form, the call runs.
    let (alice, mut asked) = connect(base, "alice", ProtocolVersion::V_2025_11_25).await?;
    let tools_listed: Vec<String> = alice
        .list_all_tools()
        .await?
        .into_iter()
        .map(|t| t.name.to_string())
        .collect();
    ensure(
        tools_listed == ["list_repos"],
        "tools/list offers list_repos",
    )?;
    let peer = alice.peer().clone();
    let call = tokio::spawn(async move { peer.call_tool_once(list_repos(None)).await });
    let url = tokio::time::timeout(Duration::from_secs(30), asked.recv())
        .await?
        .ok_or("not asked")?;
    println!("2025-11-25: elicitation/create (URL mode) with {url}");
    ensure(
        browser(&url, "mallory", "gho_x").await? == StatusCode::FORBIDDEN,
        "another user cannot open the form",
    )?;
    ensure(
        browser(&url, "alice", "gho_alice").await? == StatusCode::OK,
        "form saved",
    )?;
    let out = text(call.await??)?;
    ensure(
        out.contains("acme/widgets"),
        "the call ran once the form was saved",
    )?;
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

    // A session belongs to the user who opened it: another bearer that learns its id can
    // neither call in it nor delete it.
    let http = oob_examples::client()?;
    let mcp = |user: &str, method| {
        http.request(method, format!("{base}/mcp"))
            .header("authorization", format!("Bearer {user}"))
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
    };
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "selftest", "version": "1"}}});
    let opened = mcp("alice", reqwest::Method::POST)
        .json(&init)
        .send()
        .await?;
    let session = opened
        .headers()
        .get("mcp-session-id")
        .ok_or("no session id")?
        .to_str()?
        .to_owned();
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    for method in [reqwest::Method::POST, reqwest::Method::DELETE] {
        let status = mcp("mallory", method.clone())
            .header("mcp-session-id", &session)
            .json(&list)
            .send()
            .await?
            .status();
        ensure(
            status == StatusCode::NOT_FOUND,
            "another user cannot use or delete a session",
        )?;
    }
    let closed = mcp("alice", reqwest::Method::DELETE)
        .header("mcp-session-id", &session)
        .send()
        .await?;
    ensure(closed.status().is_success(), "the owner closes the session")?;
    println!("sessions: another user's requests on alice's session are answered 404");

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
