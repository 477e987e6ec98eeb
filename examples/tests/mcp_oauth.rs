//! The `mcp_server` example itself (the binary) against real servers:
//! - `whoami` against a real OpenID Connect provider (`oidc-provider`, run by Node on a
//!   loopback port, access tokens living 2 s), driven by rmcp clients of both revisions: the
//!   call elicits the consent URL, the user consents at the provider (over HTTP), the call
//!   answers who the user is; after the access token expired the call still answers (the
//!   token was refreshed: the provider refuses an expired one); after the user revoked the
//!   grant at the provider the next call elicits a new URL;
//! - `--store postgres`: the self-test on a Postgres started by the test.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use oob_tests::oidc::{self, CLIENT_ID, CLIENT_SECRET, OidcProvider, free_port};
use oob_tests::postgres_server::PostgresServer;
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

/// How long the provider's access tokens live.
const ACCESS_TTL: Duration = Duration::from_secs(2);

/// A running `mcp_server --serve`, killed when dropped; its scratch directory lives in
/// `_tmp` (its `TMPDIR`), removed after the kill (a killed example cannot remove it itself).
struct Server {
    child: Child,
    base: String,
    _tmp: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // `_tmp` is removed when the fields drop, after the kill.
    }
}

/// Starts `mcp_server --serve` on `port`, with `op` as its OAuth provider.
fn serve(port: u16, op: &OidcProvider) -> Server {
    let tmp = tempfile::tempdir().expect("a TMPDIR for the example");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp_server"))
        .arg("--serve")
        .env("TMPDIR", tmp.path())
        .env("MCP_SERVER_ADDR", format!("127.0.0.1:{port}"))
        .env("OAUTH_ISSUER", op.issuer())
        .env("OAUTH_CLIENT_ID", CLIENT_ID)
        .env("OAUTH_CLIENT_SECRET", CLIENT_SECRET)
        .env("OAUTH_SCOPES", "openid")
        .env("OAUTH_REFRESH_MARGIN_SECS", "0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("mcp_server starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("mcp_server printed its endpoint")
            .expect("a line");
        if let Some(rest) = line.strip_prefix("MCP endpoint: ") {
            break rest.split("/mcp").next().expect("a base").to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Server {
        child,
        base,
        _tmp: tmp,
    }
}

/// An MCP host whose user gives `answer` (agrees to open, by default) to every URL it is
/// asked to open (and sends the URL to the test).
#[derive(Clone)]
struct Host {
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

async fn connect(base: &str, user: &str, version: ProtocolVersion) -> Connected {
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
async fn connect_with(
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

fn whoami(state: Option<String>) -> CallToolRequestParams {
    let mut p = CallToolRequestParams::new("whoami");
    p.request_state = state;
    p
}

/// The tool's text; panics on anything but a successful tool result.
fn text(response: CallToolResponse) -> String {
    match response {
        CallToolResponse::Complete(r) if r.is_error != Some(true) => {
            serde_json::to_string(&r.content).expect("content")
        }
        other => panic!("expected a tool result, got {other:?}"),
    }
}

/// The user `who` opens the elicited `url` in their browser (signed in to the MCP server by
/// the demo cookie), consents at the provider, and comes back through the callback.
async fn consent_as(server: &Server, url: &str, who: &str) {
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
async fn refused_to(url: &str, who: &str) {
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

async fn next_url(urls: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(30), urls.recv())
        .await
        .expect("an elicitation within 30 s")
        .expect("the host is alive")
}

/// 2025-11-25: the call asks in the call; the user consents; the call answers.
async fn call_with_consent(
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

#[tokio::test(flavor = "multi_thread")]
async fn whoami_consents_refreshes_and_asks_again_after_revocation() {
    let port = free_port();
    let redirect = format!("http://127.0.0.1:{port}/oob/oauth/callback");
    let Some(op) = OidcProvider::start(&redirect, ACCESS_TTL) else {
        return;
    };
    let server = serve(port, &op);

    // 2025-11-25: consent through the in-call URL elicitation.
    let (alice, mut urls) = connect(&server.base, "alice", ProtocolVersion::V_2025_11_25).await;
    let (first, out) = call_with_consent(&server, &alice, &mut urls, "alice").await;
    assert!(out.contains("`alice`"), "{out}");

    // The grant is kept: the next call answers without asking.
    let out = text(alice.call_tool_once(whoami(None)).await.expect("whoami"));
    assert!(out.contains("`alice`"), "{out}");

    // After the access token expired, the call still answers, without asking: the token was
    // refreshed (the provider's userinfo refuses an expired token).
    tokio::time::sleep(ACCESS_TTL + Duration::from_secs(1)).await;
    let out = text(alice.call_tool_once(whoami(None)).await.expect("whoami"));
    assert!(out.contains("`alice`"), "{out}");
    assert!(urls.try_recv().is_err(), "no elicitation for a refresh");

    // The user revokes the grant at the provider: once the access token expired, the
    // refresh is rejected and the next call asks again, with a new URL.
    assert!(op.revoke_grants("alice").await >= 1, "alice had a grant");
    tokio::time::sleep(ACCESS_TTL + Duration::from_secs(1)).await;
    let (second, out) = call_with_consent(&server, &alice, &mut urls, "alice").await;
    assert_ne!(first, second, "a new consent");
    assert!(out.contains("`alice`"), "{out}");

    // Revoked right after the consent, without waiting for the expiry: whether the provider
    // refuses the still-live access token (the tool drops the grant) or the refresh, the call
    // asks again at once.
    assert!(op.revoke_grants("alice").await >= 1, "alice had a grant");
    let (third, out) = call_with_consent(&server, &alice, &mut urls, "alice").await;
    assert_ne!(second, third, "a new consent");
    assert!(out.contains("`alice`"), "{out}");
    alice.cancel().await.expect("close");

    // 2026-07-28: input_required, the consent, the retry with the requestState.
    let (bob, _) = connect(&server.base, "bob", ProtocolVersion::V_2026_07_28).await;
    let CallToolResponse::InputRequired(ask) =
        bob.call_tool_once(whoami(None)).await.expect("whoami")
    else {
        panic!("2026-07-28: expected input_required");
    };
    let ask = serde_json::to_value(&ask).expect("json");
    let url = ask["inputRequests"]["oauth_consent"]["params"]["url"]
        .as_str()
        .expect("a url")
        .to_owned();
    let state = ask["requestState"].as_str().expect("a state").to_owned();
    refused_to(&url, "alice").await;
    consent_as(&server, &url, "bob").await;
    let out = text(
        bob.call_tool_once(whoami(Some(state.clone())))
            .await
            .expect("retry"),
    );
    assert!(out.contains("`bob`"), "{out}");
    assert!(
        bob.call_tool_once(whoami(Some(state))).await.is_err(),
        "a requestState is used once"
    );
    bob.cancel().await.expect("close");
}

/// The tool's error text; panics on anything but a tool result flagged as an error.
fn error_text(response: CallToolResponse) -> String {
    match response {
        CallToolResponse::Complete(r) if r.is_error == Some(true) => {
            serde_json::to_string(&r.content).expect("content")
        }
        other => panic!("expected a tool error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn whoami_declined_and_clients_without_url_mode() {
    let port = free_port();
    let redirect = format!("http://127.0.0.1:{port}/oob/oauth/callback");
    let Some(op) = OidcProvider::start(&redirect, ACCESS_TTL) else {
        return;
    };
    let server = serve(port, &op);
    let url_mode = json!({"url": {}});

    // 2025-11-25, the user declines in the host: the model is told, and is not asked again
    // within the example's decline cooldown.
    let (carol, mut urls) = connect_with(
        &server.base,
        "carol",
        ProtocolVersion::V_2025_11_25,
        url_mode.clone(),
        ElicitationAction::Decline,
    )
    .await;
    let said = error_text(carol.call_tool_once(whoami(None)).await.expect("whoami"));
    assert!(said.contains("declined"), "{said}");
    next_url(&mut urls).await;
    let said = error_text(carol.call_tool_once(whoami(None)).await.expect("whoami"));
    assert!(said.contains("declined"), "{said}");
    assert!(urls.try_recv().is_err(), "not asked again after a decline");
    carol.cancel().await.expect("close");

    // 2026-07-28, declined in the retry's inputResponses.
    let (dave, _) = connect_with(
        &server.base,
        "dave",
        ProtocolVersion::V_2026_07_28,
        url_mode,
        ElicitationAction::Accept,
    )
    .await;
    let CallToolResponse::InputRequired(ask) =
        dave.call_tool_once(whoami(None)).await.expect("whoami")
    else {
        panic!("2026-07-28: expected input_required");
    };
    let state = serde_json::to_value(&ask).expect("json")["requestState"]
        .as_str()
        .expect("a state")
        .to_owned();
    let mut retry = whoami(Some(state));
    retry.input_responses = Some(
        [("oauth_consent".to_owned(), json!({"action": "decline"}))]
            .into_iter()
            .collect(),
    );
    let said = error_text(dave.call_tool_once(retry).await.expect("retry"));
    assert!(said.contains("declined"), "{said}");
    dave.cancel().await.expect("close");

    // Clients that did not declare URL mode never get a URL: a tool error (2025-11-25), the
    // missing-capability error -32021 (2026-07-28).
    let (erin, mut urls) = connect_with(
        &server.base,
        "erin",
        ProtocolVersion::V_2025_11_25,
        json!({"form": {}}),
        ElicitationAction::Accept,
    )
    .await;
    let said = error_text(erin.call_tool_once(whoami(None)).await.expect("whoami"));
    assert!(said.contains("URL-mode elicitation"), "{said}");
    assert!(urls.try_recv().is_err(), "no URL");
    erin.cancel().await.expect("close");
    let (frank, _) = connect_with(
        &server.base,
        "frank",
        ProtocolVersion::V_2026_07_28,
        json!({"form": {}}),
        ElicitationAction::Accept,
    )
    .await;
    let refused = frank
        .call_tool_once(whoami(None))
        .await
        .expect_err("no URL mode");
    assert!(format!("{refused:?}").contains("-32021"), "{refused:?}");
    frank.cancel().await.expect("close");
}

#[test]
fn selftest_on_postgres() {
    let Some(pg) = PostgresServer::start() else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_mcp_server"))
        .args(["--selftest", "--store", "postgres"])
        .env("DATABASE_URL", pg.url())
        .env_remove("OAUTH_CLIENT_ID")
        .output()
        .expect("mcp_server starts");
    assert!(
        out.status.success(),
        "mcp_server --selftest --store postgres failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The state lived in Postgres: the example migrated the `oob` schema and stored the
    // tokens there, sealed (the self-test's tokens are `gho_alice` and `gho_bob`).
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let values: Vec<String> = rt.block_on(async {
        let pool = pg.pool(1).await;
        sqlx::query_scalar("SELECT value::text FROM oob.vault")
            .fetch_all(&pool)
            .await
            .expect("the oob schema's vault table")
    });
    assert_eq!(values.len(), 2, "both tokens stored in Postgres");
    assert!(
        values.iter().all(|v| !v.contains("gho_")),
        "stored encrypted: {values:?}"
    );
}

#[test]
fn store_flag_is_checked() {
    let out = Command::new(env!("CARGO_BIN_EXE_mcp_server"))
        .args(["--selftest", "--store", "mongodb"])
        .output()
        .expect("mcp_server starts");
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_mcp_server"))
        .args(["--selftest", "--store", "postgres"])
        .env_remove("DATABASE_URL")
        .output()
        .expect("mcp_server starts");
    assert!(!out.status.success(), "no DATABASE_URL, no start");
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
}
