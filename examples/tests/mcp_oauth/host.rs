//! The MCP host of the tests (rmcp, either revision), whose user agrees to or declines every
//! URL it is asked to open, and what that user does in the browser: consent at the provider,
//! or be refused as another user.

use std::time::Duration;

use oob_tests::oidc;
use reqwest::StatusCode;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ClientConfig, ElicitRequestParams, ElicitResult,
    ElicitationAction, ErrorData, ProtocolVersion,
};
use rmcp::service::{RequestContext, RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientHandler, ClientLifecycleMode, ClientServiceExt};
use serde_json::json;
use tokio::sync::mpsc;

use super::Server;

/// An MCP host whose user gives `answer` (agrees to open, by default) to every URL it is
/// asked to open (and sends the URL to the test).
#[derive(Clone)]
pub(super) struct Host {
    config: ClientConfig,
    urls: mpsc::UnboundedSender<String>,
    answer: ElicitationAction,
}

impl ClientHandler for Host {
    fn get_info(&self) -> ClientConfig {
        self.config.clone()
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _cx: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        if let ElicitRequestParams::UrlElicitationParams { url, .. } = request {
            let _ = self.urls.send(url);
        }
        Ok(ElicitResult::new(self.answer.clone()))
    }
}

type Connected = (
    RunningService<RoleClient, Host>,
    mpsc::UnboundedReceiver<String>,
);

pub(super) async fn connect(base: &str, user: &str, version: ProtocolVersion) -> Connected {
    connect_with(
        base,
        user,
        version,
        json!({"url": {}}),
        ElicitationAction::Accept,
    )
    .await
}

/// A host declaring `elicitation` capabilities `modes`, whose user answers `answer`.
pub(super) async fn connect_with(
    base: &str,
    user: &str,
    version: ProtocolVersion,
    modes: serde_json::Value,
    answer: ElicitationAction,
) -> Connected {
    let config: ClientConfig = serde_json::from_value(json!({
        "protocolVersion": version.as_str(),
        "capabilities": {"elicitation": modes},
        "clientInfo": {"name": "mcp_oauth-test", "version": "1"},
    }))
    .expect("config");
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
    let client = Host {
        config,
        urls: tx,
        answer,
    }
    .serve_with_lifecycle(transport, lifecycle)
    .await
    .expect("MCP session");
    (client, rx)
}

pub(super) fn whoami(state: Option<String>) -> CallToolRequestParams {
    let mut p = CallToolRequestParams::new("whoami");
    p.request_state = state;
    p
}

/// The tool's text; panics on anything but a successful tool result.
pub(super) fn text(response: CallToolResponse) -> String {
    match response {
        CallToolResponse::Complete(r) if r.is_error != Some(true) => {
            serde_json::to_string(&r.content).expect("content")
        }
        other => panic!("expected a tool result, got {other:?}"),
    }
}

/// The user `who` opens the elicited `url` in their browser (signed in to the MCP server by
/// the demo cookie), consents at the provider, and comes back through the callback.
pub(super) async fn consent_as(server: &Server, url: &str, who: &str) {
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let cookie = format!("session={who}");
    let res = browser
        .get(url)
        .header("cookie", &cookie)
        .send()
        .await
        .expect("pending url");
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "off to the provider");
    let authorize = res.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(
        authorize.contains("code_challenge_method=S256"),
        "PKCE S256"
    );
    let redirect = format!("{}/oob/oauth/callback", server.base);
    let callback = oidc::consent(&authorize, &redirect, who).await;
    let res = browser
        .get(&callback)
        .header("cookie", &cookie)
        .send()
        .await
        .expect("callback");
    assert_eq!(res.status(), StatusCode::OK, "connected");
}

/// Another user opening `url` is refused before anything else.
pub(super) async fn refused_to(url: &str, who: &str) {
    let res = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(url)
        .header("cookie", format!("session={who}"))
        .send()
        .await
        .expect("pending url");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

pub(super) async fn next_url(urls: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(30), urls.recv())
        .await
        .expect("an elicitation within 30 s")
        .expect("the host is alive")
}

/// 2025-11-25: the call asks in the call; the user consents; the call answers.
pub(super) async fn call_with_consent(
    server: &Server,
    client: &RunningService<RoleClient, Host>,
    urls: &mut mpsc::UnboundedReceiver<String>,
    who: &str,
) -> (String, String) {
    let peer = client.peer().clone();
    let call = tokio::spawn(async move { peer.call_tool_once(whoami(None)).await });
    let url = next_url(urls).await;
    refused_to(&url, "mallory").await;
    consent_as(server, &url, who).await;
    let out = text(call.await.expect("joined").expect("whoami"));
    (url, out)
}

/// The tool's error text; panics on anything but a tool result flagged as an error.
pub(super) fn error_text(response: CallToolResponse) -> String {
    match response {
        CallToolResponse::Complete(r) if r.is_error == Some(true) => {
            serde_json::to_string(&r.content).expect("content")
        }
        other => panic!("expected a tool error, got {other:?}"),
    }
}
