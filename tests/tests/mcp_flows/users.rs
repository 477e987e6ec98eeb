//! Sessions and credentials belong to their user: another user can neither use nor close a
//! session, and one user's completion never answers another's call.

use std::time::Duration;

use oob::vault::{MemoryVault, Vault};
use rmcp::model::{ElicitationAction, ProtocolVersion};
use serde_json::{Value, json};

use crate::mcp_support::client::{asked, connect, list_repos};
use crate::mcp_support::{Harness, Options, browser_submit, start};

/// A raw streamable-HTTP request as `user`, in `session`.
async fn raw(
    h: &Harness<impl Clone + Send + Sync + 'static>,
    method: reqwest::Method,
    user: &str,
    session: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}/mcp", h.base))
        .header("authorization", format!("Bearer {user}"))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25");
    if let Some(s) = session {
        req = req.header("mcp-session-id", s);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_belongs_to_the_user_who_opened_it() {
    let h = start(Options::default()).await;
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"}}});
    let opened = raw(&h, reqwest::Method::POST, "alice", None, Some(init)).await;
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    drop(opened.text().await);
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let ok = raw(
        &h,
        reqwest::Method::POST,
        "alice",
        Some(&session),
        Some(initialized),
    )
    .await;
    assert!(ok.status().is_success(), "{}", ok.status());
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});

    // Bob (or nobody) learns the id: neither a call nor DELETE reaches the session.
    for user in ["bob", ""] {
        let r = raw(
            &h,
            reqwest::Method::POST,
            user,
            Some(&session),
            Some(list.clone()),
        )
        .await;
        assert_eq!(r.status(), 404);
        let r = raw(&h, reqwest::Method::DELETE, user, Some(&session), None).await;
        assert_eq!(r.status(), 404);
    }
    let r = raw(
        &h,
        reqwest::Method::POST,
        "alice",
        Some(&session),
        Some(list),
    )
    .await;
    assert!(r.status().is_success());
    assert!(r.text().await.unwrap().contains("list_repos"));
    let r = raw(&h, reqwest::Method::DELETE, "alice", Some(&session), None).await;
    assert!(r.status().is_success(), "{}", r.status());
    assert!(h.owners.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_is_untouched_by_other_users() {
    // The 2026 accept-wait does not let one user's completion answer another's call.
    let h = start(Options {
        accept_wait: Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    let alice = connect(
        &h,
        "alice",
        ProtocolVersion::V_2026_07_28,
        ElicitationAction::Accept,
    )
    .await;
    let bob = connect(
        &h,
        "bob",
        ProtocolVersion::V_2026_07_28,
        ElicitationAction::Accept,
    )
    .await;
    let (alice_url, _) = asked(
        alice
            .client
            .call_tool_once(list_repos(None, None))
            .await
            .unwrap(),
    );
    let (_, bob_state) = asked(
        bob.client
            .call_tool_once(list_repos(None, None))
            .await
            .unwrap(),
    );
    assert_eq!(browser_submit(&alice_url, "alice", "gho_alice").await, 200);
    let answer = json!({"upstream_token": {"action": "accept"}});
    asked(
        bob.client
            .call_tool_once(list_repos(Some(bob_state), Some(answer)))
            .await
            .unwrap(),
    );
    let bob_ns = oob::provider::VerifiedSubject::new(oob::Namespace::new("bob").unwrap());
    let token = h.tools.manager().caller(&bob_ns).unwrap();
    assert_eq!(h.tools.vault().get(&token, "upstream").await.unwrap(), None);
    let _: &MemoryVault<String> = h.tools.vault();
    alice.client.cancel().await.unwrap();
    bob.client.cancel().await.unwrap();
}
