//! The self-test: real rmcp clients of both revisions, a browser made of reqwest.

use std::time::Duration;

use axum::http::StatusCode;
use oob::Namespace;
use oob::http::AntiForgery;
use oob::provider::VerifiedSubject;
use oob::vault::Vault;
use oob_examples::{BoxError, between, ensure};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ClientConfig, CustomNotification, ElicitRequestParams,
    ElicitResult, ElicitationAction, ErrorData, ProtocolVersion,
};
use rmcp::service::{NotificationContext, RequestContext, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, ClientLifecycleMode, ClientServiceExt};
use serde_json::json;
use tokio::sync::mpsc;

use crate::Tools;

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
    // A refusal, or the owner's "already done" page after completion: no form.
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

/// Drives both tools' flows; `Err` names the first check that failed.
pub(crate) async fn run(base: &str, tools: &Tools) -> Result<(), BoxError> {
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
        tools_listed.contains(&"list_repos".to_owned())
            && tools_listed.contains(&"whoami".to_owned()),
        "tools/list offers list_repos and whoami",
    )?;
    if std::env::var_os("OAUTH_CLIENT_ID").is_none() {
        let said = alice
            .call_tool_once(CallToolRequestParams::new("whoami"))
            .await?;
        let CallToolResponse::Complete(said) = said else {
            return Err("whoami: expected a tool result".into());
        };
        ensure(
            said.is_error == Some(true)
                && serde_json::to_string(&said.content)?
                    .contains("No OAuth provider is configured"),
            "whoami says no provider is configured",
        )?;
        println!("whoami without a provider: says it is not configured");
    }
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
