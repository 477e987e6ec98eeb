//! The session table against real traffic of both revisions: only an `initialize` opens a
//! 2025-11-25 session, so only an `initialize` may take a slot in `SessionOwners` or evict
//! one. Revision 2026-07-28 requests carry no `Mcp-Session-Id` (the discover lifecycle has
//! no sessions): raw JSON-RPC POSTs, a real rmcp client with `ClientLifecycleMode::Discover`
//! and its retries waiting in the accept wait all leave other users' legacy sessions in
//! place, at capacity, whether the table evicts or refuses when full.

mod mcp_support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use mcp_support::{Harness, Options, browser_submit, start};
use oob::mcp::rmcp::SessionOwners;
use rmcp::model::{CallToolRequestParams, CallToolResponse, ClientConfig, ProtocolVersion};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ClientLifecycleMode, ClientServiceExt};
use serde_json::{Value, json};

const GUARD: Duration = Duration::from_secs(30);

type Client = RunningService<RoleClient, ClientConfig>;

fn config(version: &ProtocolVersion) -> ClientConfig {
    serde_json::from_value(json!({
        "protocolVersion": version.as_str(),
        "capabilities": {"elicitation": {"url": {}}},
        "clientInfo": {"name": "sessions", "version": "1"},
    }))
    .unwrap()
}

/// A real rmcp client of `user`: revision 2025-11-25 opens a session with `initialize`,
/// revision 2026-07-28 uses the discover lifecycle (no session).
async fn connect(h: &Harness, user: &str, version: ProtocolVersion) -> Client {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp", h.base)).auth_header(user),
    );
    let lifecycle = if version == ProtocolVersion::V_2026_07_28 {
        ClientLifecycleMode::Discover {
            preferred_versions: vec![version.clone()],
        }
    } else {
        ClientLifecycleMode::Initialize
    };
    tokio::time::timeout(
        GUARD,
        config(&version).serve_with_lifecycle(transport, lifecycle),
    )
    .await
    .expect("connected")
    .unwrap()
}

/// A raw JSON-RPC POST of `user` without a session: `headers` are the revision's.
async fn post(
    h: &Harness,
    user: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(format!("{}/mcp", h.base))
        .header("authorization", format!("Bearer {user}"))
        .header("accept", "application/json, text/event-stream")
        .json(body);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    req.send().await.unwrap()
}

/// A 2026-07-28 `tools/list`, as the probe that found the eviction sent it.
async fn list_2026(h: &Harness, user: &str, id: u64) -> reqwest::Response {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/list", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"}}}});
    let headers = [
        ("mcp-protocol-version", "2026-07-28"),
        ("mcp-method", "tools/list"),
    ];
    post(h, user, &headers, &body).await
}

/// A raw 2025-11-25 `initialize` of `user`: the response (its `Mcp-Session-Id`, if opened).
async fn initialize(h: &Harness, user: &str) -> reqwest::Response {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}});
    post(h, user, &[], &body).await
}

/// A raw `tools/list` in `session` of `user`: the HTTP status.
async fn list_in_session(h: &Harness, user: &str, session: &str) -> u16 {
    let body = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let headers = [
        ("mcp-protocol-version", "2025-11-25"),
        ("mcp-session-id", session),
    ];
    post(h, user, &headers, &body).await.status().as_u16()
}

fn list_repos(state: Option<String>, responses: Option<Value>) -> CallToolRequestParams {
    let mut p = CallToolRequestParams::new("list_repos")
        .with_arguments(json!({"org": "acme"}).as_object().cloned().unwrap());
    p.request_state = state;
    p.input_responses = responses.map(|r| serde_json::from_value(r).unwrap());
    p
}

/// Both legacy clients still reach their sessions (an evicted one is answered `404`).
async fn both_legacy_sessions_work(alice: &Client, bob: &Client) {
    for client in [alice, bob] {
        let tools = tokio::time::timeout(GUARD, client.list_all_tools())
            .await
            .expect("listed")
            .expect("the legacy session is still there");
        assert_eq!(tools.len(), 1);
    }
}

async fn sessionless_traffic_beside_legacy_sessions(refuse: bool) {
    let h = start(Options::default()).await;
    let owners: SessionOwners = h.owners.clone().capacity(2);
    if refuse {
        let _ = owners.refuse_when_full();
    }
    let alice = connect(&h, "alice", ProtocolVersion::V_2025_11_25).await;
    let bob = connect(&h, "bob", ProtocolVersion::V_2025_11_25).await;
    assert_eq!(h.owners.len(), 2, "the table is full");

    // Raw 2026 requests of another user: served, and no legacy session goes.
    for id in 0..3 {
        let r = list_2026(&h, "carol", id).await;
        assert!(r.status().is_success(), "{}", r.status());
        assert!(r.headers().get("mcp-session-id").is_none());
        assert!(r.text().await.unwrap().contains("list_repos"));
        assert_eq!(
            h.owners.len(),
            2,
            "a request that opened no session evicted one"
        );
    }

    // A real 2026 client: discover, list, call.
    let carol = connect(&h, "carol", ProtocolVersion::V_2026_07_28).await;
    let tools = carol.list_all_tools().await.unwrap();
    assert_eq!(tools[0].name, "list_repos");
    assert_eq!(h.owners.len(), 2);
    both_legacy_sessions_work(&alice, &bob).await;

    let CallToolResponse::InputRequired(asked) =
        carol.call_tool_once(list_repos(None, None)).await.unwrap()
    else {
        panic!("expected input_required");
    };
    let asked = serde_json::to_value(&asked).unwrap();
    let url = asked["inputRequests"]["upstream_token"]["params"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let state = asked["requestState"].as_str().unwrap().to_owned();

    // Three retries that accepted wait for the browser step (the accept wait is 15 s).
    let accepted = json!({"upstream_token": {"action": "accept"}});
    let retries: Vec<_> = (0..3)
        .map(|_| {
            let peer = carol.peer().clone();
            let params = list_repos(Some(state.clone()), Some(accepted.clone()));
            tokio::spawn(async move { peer.call_tool_once(params).await })
        })
        .collect();
    // While they wait, the legacy sessions stay (the old table lost one per waiting retry).
    for _ in 0..30 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            h.owners.len(),
            2,
            "a waiting retry evicted a legacy session"
        );
    }
    assert!(
        retries.iter().all(|r| !r.is_finished()),
        "the retries were still waiting"
    );
    both_legacy_sessions_work(&alice, &bob).await;
    assert_eq!(h.owners.len(), 2);

    // The browser step ends the wait: one retry runs the tool (the state is single use,
    // the others are told it was used).
    assert_eq!(browser_submit(&url, "carol", "tok").await, 200);
    let mut ran = 0;
    for retry in retries {
        let answer = tokio::time::timeout(GUARD, retry)
            .await
            .expect("the retry ended")
            .unwrap();
        if let Ok(CallToolResponse::Complete(result)) = answer {
            assert_ne!(result.is_error, Some(true));
            ran += 1;
        }
    }
    assert_eq!((ran, h.runs.load(Ordering::SeqCst)), (1, 1));
    assert_eq!(h.owners.len(), 2);
    both_legacy_sessions_work(&alice, &bob).await;
    for client in [alice, bob, carol] {
        client.cancel().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessionless_traffic_leaves_legacy_sessions_when_evicting() {
    sessionless_traffic_beside_legacy_sessions(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessionless_traffic_leaves_legacy_sessions_when_refusing() {
    sessionless_traffic_beside_legacy_sessions(true).await;
}

/// Opens a 2025-11-25 session of `user` with raw requests (`initialize`, then
/// `notifications/initialized`): its id.
async fn open(h: &Harness, user: &str) -> String {
    let opened = initialize(h, user).await;
    assert!(opened.status().is_success(), "{}", opened.status());
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    drop(opened.text().await);
    let body = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let headers = [
        ("mcp-protocol-version", "2025-11-25"),
        ("mcp-session-id", session.as_str()),
    ];
    let r = post(h, user, &headers, &body).await;
    assert!(r.status().is_success(), "{}", r.status());
    session
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_initialize_still_evicts_the_least_recently_used_session() {
    let h = start(Options::default()).await;
    let _ = h.owners.clone().capacity(2);
    let a = open(&h, "alice").await;
    let b = open(&h, "bob").await;
    // Alice uses hers: Bob's is the least recently used.
    assert_eq!(list_in_session(&h, "alice", &a).await, 200);
    let c = open(&h, "carol").await;
    assert_eq!(h.owners.len(), 2);
    assert_eq!(list_in_session(&h, "bob", &b).await, 404);
    assert_eq!(list_in_session(&h, "alice", &a).await, 200);
    assert_eq!(list_in_session(&h, "carol", &c).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_initialize_is_still_refused_when_full_and_refusing() {
    let h = start(Options::default()).await;
    let _ = h.owners.clone().capacity(2).refuse_when_full();
    let a = open(&h, "alice").await;
    let b = open(&h, "bob").await;
    let refused = initialize(&h, "carol").await;
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().get("mcp-session-id").is_none());
    assert_eq!(h.owners.len(), 2);
    assert_eq!(list_in_session(&h, "alice", &a).await, 200);
    assert_eq!(list_in_session(&h, "bob", &b).await, 200);
    // A 2026 request of the same user is served all the same.
    assert!(list_2026(&h, "carol", 7).await.status().is_success());
}
