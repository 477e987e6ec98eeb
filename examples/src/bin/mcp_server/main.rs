//! An MCP server (rmcp, streamable HTTP on 127.0.0.1) with two tools that need the user's
//! credentials for third parties, obtained out of band and never passed through the MCP
//! client:
//! - `list_repos` needs a token for a (fake) upstream service, typed by the user in a secret
//!   form served on the same axum router;
//! - `whoami` needs an OAuth grant at a real provider (configured from the environment, see
//!   `connect.rs`): consent through `oob::oauth` (PKCE, the callback on this router), the
//!   access token refreshed transparently when it expires, and a new consent asked for
//!   after the user revoked the grant. Without a provider configured it says so.
//!
//! Clients of both protocol revisions are served: 2025-11-25 is asked in the call (URL-mode
//! `elicitation/create`; `-32042` and `notifications/elicitation/complete` if the browser
//! step outlasts the wait), 2026-07-28 gets `input_required` with a sealed `requestState`.
//! A user's decline or cancel ends the interaction and the model is told so.
//!
//! State lives in SQLite (`SqliteStore`, `SqliteVault`) in a scratch directory, or with
//! `--store postgres` in the Postgres database at `DATABASE_URL` (`PostgresStore`,
//! `PostgresVault`, migrated at start-up). Authentication is a demo:
//! `Authorization: Bearer <user>` for MCP requests and `Cookie: session=<user>` for the
//! browser both mean "signed in as `<user>`"; a real service verifies a token and puts the
//! verified subject in the request extensions the same way. `MCP_SERVER_ADDR` fixes the
//! listening address (e.g. `127.0.0.1:8080`, for the redirect URL registered at the provider).
//!
//! Run: `cargo run -p oob-examples --bin mcp_server` (serves until Ctrl-C).
//! Non-interactive: `cargo run -p oob-examples --bin mcp_server -- --selftest`, and with
//! `-- --selftest --store postgres` on Postgres.

mod auth;
mod backend;
mod connect;
mod selftest;

use std::num::NonZeroU32;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use oob::http::{AntiForgery, ExtensionUser, Interaction, Interactions, interaction_headers};
use oob::mcp::StateKeys;
use oob::mcp::rmcp::{Gate, Need, OobTools, SessionOwners, ToolCall, bind_sessions, spec_wire};
use oob::provider::FromVerifiedSubject;
use oob::store::BoxStore;
use oob::vault::{BoxVault, Vault};
use oob::{CallbackBase, Manager, OobPayload, Spec};
use oob_examples::{BoxError, Mode, escape, page, random_bytes, scratch_dir};
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock, ErrorData};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use rmcp::{tool, tool_router};
use serde::{Deserialize, Serialize};

use backend::Backend;
use connect::Connect;

/// How many interactions one user may start a minute, on each manager: a client looping a
/// tool call and a declined retry leaves at most about 120 × (300 s retention + 600 s TTL +
/// 60 s between sweeps) / 60 s = 1,920 finished records behind, plus 120
/// (`max_creates_per_namespace`; each manager has its sweeper).
pub(crate) const CREATES_PER_MINUTE: NonZeroU32 = NonZeroU32::new(120).unwrap();

/// The interaction: a token for the upstream service, typed in a secret form.
#[derive(Debug, Clone, Serialize, Deserialize, OobPayload)]
#[oob(kind = "upstream_token", route = "/oob/token/{id}", ttl = "10m")]
struct UpstreamToken;

type Tools =
    OobTools<UpstreamToken, BoxStore<UpstreamToken>, FromVerifiedSubject, BoxVault<String>>;

/// The MCP server: two tools.
#[derive(Clone)]
struct Repos {
    tools: Tools,
    upstream: String,
    http: reqwest::Client,
    /// The OAuth provider of `whoami`, when configured.
    connect: Option<Connect>,
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

    #[tool(
        description = "Tell who you are at the identity provider this server is connected \
                       to. The first time (and after you revoke the grant), you are asked to \
                       sign in there in your browser."
    )]
    async fn whoami(
        &self,
        ctx: RequestContext<RoleServer>,
        call: ToolCall,
    ) -> Result<CallToolResponse, ErrorData> {
        match &self.connect {
            Some(connect) => connect.whoami(&ctx, &call).await,
            None => {
                Ok(CallToolResult::error(vec![ContentBlock::text(connect::NOT_CONFIGURED)]).into())
            }
        }
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
    let (manager, pending) = (app.tools.manager().clone(), ix.into_pending());
    // The persist step is `'static`: it owns its handle on the vault and the token. The
    // completion runs in a task of its own, so a browser that goes away mid-way does not
    // lose the token.
    let stored = oob_examples::detached(async move {
        manager
            .complete_with(pending, async move |token| {
                vault.put(&token, "upstream", form.token).await
            })
            .await
    })
    .await;
    match stored {
        Ok(_) => page("Connected", "<p>Saved. You can close this tab.</p>").into_response(),
        // A second submit: "already done" (200); cancelled or expired: 410; a store
        // failure: a generic 500. Fixed pages with a next step.
        Err(rejection) => rejection.into_response(),
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

/// The server on `base`: state from `backend` (SQLite files in `dir`), the OAuth provider
/// from the environment.
async fn build(base: &str, dir: &Path, backend: Backend) -> Result<(Router, Tools), BoxError> {
    let stores = backend.open(dir).await?;
    let manager = Manager::builder()
        .store(stores.tokens)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse(base)?)
        .max_creates_per_namespace(CREATES_PER_MINUTE, Duration::from_secs(60))
        .build();
    // In production: a persistent secret from your key store, rotated with
    // `with_previous_key`.
    let keys = StateKeys::new(random_bytes::<32>()?)?.with_ttl(Duration::from_secs(600));
    let vault = stores.token_vault;
    let connect = connect::from_env(base, stores.consents, stores.grants).await?;
    let tools = OobTools::new(manager, vault, keys);
    let server = Repos {
        tools: tools.clone(),
        upstream: base.to_owned(),
        http: reqwest::Client::new(),
        connect: connect.clone(),
    };
    let sessions = Arc::new(LocalSessionManager::default());
    let mcp = StreamableHttpService::new(
        move || Ok(server.clone()),
        sessions.clone(),
        StreamableHttpServerConfig::default(),
    );
    let mut interactions = Router::new()
        .route("/oob/token/{id}", get(form_page).post(form_submit))
        .layer(interaction_headers())
        .with_state(App {
            tools: tools.clone(),
            forms: AntiForgery::generate()?,
        });
    if let Some(connect) = &connect {
        // The consent URL (owner check, then PKCE to the provider) and the callback.
        interactions = interactions.merge(connect.flow.oauth().router());
    }
    // `input_required` exactly as 2026-07-28 defines it; each MCP session usable only by the
    // user who opened it (inside `authenticate`, which runs first), and a session the owner
    // table drops (idle, or the user's 33rd) closed in rmcp too. Signed-in callers only.
    let mcp = Router::new()
        .nest_service("/mcp", mcp)
        .layer(axum::middleware::from_fn(spec_wire))
        .layer(axum::middleware::from_fn_with_state(
            SessionOwners::new().closing(sessions),
            bind_sessions,
        ))
        .layer(axum::middleware::from_fn(auth::signed_in_only));
    let app = Router::new()
        .merge(interactions)
        .merge(mcp)
        .layer(axum::middleware::from_fn(auth::authenticate))
        .route("/upstream/repos", get(upstream_repos));
    Ok((app, tools))
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let Some(backend) = backend::take_store_flag(&mut args) else {
        eprintln!("mcp_server: --store takes sqlite or postgres");
        return ExitCode::from(2);
    };
    let Some(mode) = oob_examples::mode_of("mcp_server", &args, backend::USAGE) else {
        return ExitCode::from(2);
    };
    oob_examples::exit("mcp_server", run(mode, backend).await)
}

/// A listener on `MCP_SERVER_ADDR` (a fixed address, for a redirect URL registered at an
/// OAuth provider), else on 127.0.0.1 with an OS-chosen port.
async fn listen() -> Result<(tokio::net::TcpListener, String), BoxError> {
    match std::env::var("MCP_SERVER_ADDR") {
        Ok(addr) => {
            let listener = tokio::net::TcpListener::bind(&addr).await?;
            let base = format!("http://{}", listener.local_addr()?);
            Ok((listener, base))
        }
        Err(_) => oob_examples::bind().await,
    }
}

async fn run(mode: Mode, backend: Backend) -> Result<(), BoxError> {
    // Removed when `run` returns: after the self-test, Ctrl-C or SIGTERM.
    let dir = scratch_dir("mcp-server")?;
    let (listener, base) = listen().await?;
    let (app, tools) = build(&base, dir.path(), backend).await?;
    let _sweeper = tools.manager().spawn_sweeper(Duration::from_secs(60));
    let server = oob_examples::spawn_server(listener, app);
    if mode == Mode::Selftest {
        return selftest::run(&base, &tools).await;
    }
    println!("MCP endpoint: {base}/mcp  (send `Authorization: Bearer <your name>`)");
    println!(
        "Tools: list_repos, whoami. Open the URL they elicit with the cookie `session=<your name>`."
    );
    println!("(Ctrl-C or SIGTERM to stop)");
    server.await?;
    Ok(())
}
