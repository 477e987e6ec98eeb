//! Each revision end to end: 2025-11-25 with -32042, the completion notification and the
//! retry; 2026-07-28 with `input_required` and a sealed request state; a declined
//! interaction; clients that cannot open a URL.

use std::time::{Duration, SystemTime};

use oob::Namespace;
use oob::mcp::{Binding, StateKeys};
use oob::provider::VerifiedSubject;
use oob::vault::Vault;
use rmcp::model::ProtocolVersion;
use serde_json::json;

use crate::mcp_support::KEY;
use crate::mcp_support::client::{
    GUARD, complete, input_required, text_of, url_and_state, url_mode,
};
use crate::server::{browser_submit, start};
use crate::{call, connect, mcp_error};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_2025_11_25_url_elicitation_error_notification_and_retry() {
    let h = start().await;
    let (alice, mut completed) =
        connect(&h, "alice", ProtocolVersion::V_2025_11_25, url_mode()).await;

    // The tool needs the token: -32042 with one URL elicitation whose id is the pending id.
    let err = mcp_error(alice.call_tool_once(call(None)).await.unwrap_err());
    assert_eq!(err.code.0, -32042);
    let data = err.data.unwrap();
    let e = &data["elicitations"][0];
    assert_eq!(e["mode"], "url");
    let (id, url) = (
        e["elicitationId"].as_str().unwrap().to_owned(),
        e["url"].as_str().unwrap().to_owned(),
    );
    assert_eq!(url, format!("{}/oob/token/{id}", h.base));
    assert_eq!(data["elicitations"].as_array().unwrap().len(), 1);

    // A second call joins the same pending.
    let again = mcp_error(alice.call_tool_once(call(None)).await.unwrap_err());
    assert_eq!(
        again.data.unwrap()["elicitations"][0]["elicitationId"],
        id.as_str()
    );

    // Bob is sent elsewhere, and cannot open Alice's URL in his browser.
    let (bob, _bob_completed) = connect(&h, "bob", ProtocolVersion::V_2025_11_25, url_mode()).await;
    let bob_err = mcp_error(bob.call_tool_once(call(None)).await.unwrap_err());
    assert_ne!(
        bob_err.data.unwrap()["elicitations"][0]["elicitationId"],
        id.as_str()
    );
    assert_eq!(browser_submit(&url, "bob", "gho_bob").await, 403);

    // Alice completes the form; the server notifies her client.
    assert_eq!(browser_submit(&url, "alice", "gho_alice").await, 200);
    let notified = tokio::time::timeout(GUARD, completed.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(notified, id);

    // The retry runs with Alice's token; Bob still has none.
    let ok = complete(alice.call_tool_once(call(None)).await.unwrap());
    assert_ne!(ok.is_error, Some(true));
    assert!(text_of(&ok).contains("gho_alice"));
    let bob_again = mcp_error(bob.call_tool_once(call(None)).await.unwrap_err());
    assert_eq!(bob_again.code.0, -32042);
    let bob_cx = VerifiedSubject::new(Namespace::new("bob").unwrap());
    let bob_token = h.tools.manager().caller(&bob_cx).unwrap();
    assert_eq!(
        h.tools.vault().get(&bob_token, "upstream").await.unwrap(),
        None
    );

    // The used URL is gone.
    assert_eq!(
        browser_submit(&url, "alice", "again").await,
        200,
        "already done"
    );
    alice.cancel().await.unwrap();
    bob.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_2026_07_28_input_required_and_sealed_request_state() {
    let h = start().await;
    let (alice, _) = connect(&h, "alice", ProtocolVersion::V_2026_07_28, url_mode()).await;

    let first = input_required(alice.call_tool_once(call(None)).await.unwrap());
    assert_eq!(first["resultType"], "input_required");
    assert_eq!(
        first["inputRequests"]["upstream_token"]["params"]["mode"],
        "url"
    );
    let (url, state) = url_and_state(&first);
    assert!(url.starts_with(&format!("{}/oob/token/", h.base)));

    // Retried before the user acted: input_required again.
    input_required(
        alice
            .call_tool_once(call(Some(state.clone())))
            .await
            .unwrap(),
    );

    // Tampered, other user, other params, expired: rejected.
    let mut tampered = state.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let err = mcp_error(
        alice
            .call_tool_once(call(Some(tampered)))
            .await
            .unwrap_err(),
    );
    assert_eq!(err.code.0, -32602);
    assert!(err.message.contains("failed verification"));

    let (bob, _) = connect(&h, "bob", ProtocolVersion::V_2026_07_28, url_mode()).await;
    let err = mcp_error(
        bob.call_tool_once(call(Some(state.clone())))
            .await
            .unwrap_err(),
    );
    assert!(err.message.contains("another caller"), "{}", err.message);

    let mut other = call(Some(state.clone()));
    other.arguments = json!({"org": "evil"}).as_object().cloned();
    let err = mcp_error(alice.call_tool_once(other).await.unwrap_err());
    assert!(err.message.contains("other parameters"), "{}", err.message);

    let alice_ns = Namespace::new("alice").unwrap();
    let bound = json!({"name": "list_repos", "arguments": {"org": "acme"}});
    let long_ago = SystemTime::now() - Duration::from_secs(3600);
    let expired = StateKeys::new(KEY).unwrap().seal(
        &Binding::new(&alice_ns, "tools/call", &bound),
        &[],
        long_ago,
    );
    let err = mcp_error(alice.call_tool_once(call(Some(expired))).await.unwrap_err());
    assert!(err.message.contains("expired"), "{}", err.message);

    // Alice completes the form; the retry with the state gets the result.
    assert_eq!(browser_submit(&url, "alice", "gho_alice").await, 200);
    let ok = complete(
        alice
            .call_tool_once(call(Some(state.clone())))
            .await
            .unwrap(),
    );
    assert!(text_of(&ok).contains("gho_alice"));

    // Bob, even with Alice's (valid) state, never sees her token, and without one is asked.
    let err = mcp_error(bob.call_tool_once(call(Some(state))).await.unwrap_err());
    assert!(err.message.contains("another caller"));
    // Bob is asked for his own token.
    input_required(bob.call_tool_once(call(None)).await.unwrap());
    alice.cancel().await.unwrap();
    bob.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_interaction_is_a_tool_error_on_retry() {
    let h = start().await;
    let (alice, _) = connect(&h, "alice", ProtocolVersion::V_2026_07_28, url_mode()).await;
    let (_, state) = url_and_state(&input_required(
        alice.call_tool_once(call(None)).await.unwrap(),
    ));
    let open = h
        .tools
        .manager()
        .list(&VerifiedSubject::new(Namespace::new("alice").unwrap()))
        .await
        .unwrap();
    h.tools
        .manager()
        .decline(open.into_iter().next().unwrap())
        .await
        .unwrap();
    let r = complete(alice.call_tool_once(call(Some(state))).await.unwrap());
    assert_eq!(r.is_error, Some(true));
    assert!(text_of(&r).contains("declined"));
    alice.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_without_url_mode_get_the_error_not_a_url() {
    let h = start().await;
    // 2026-07-28 declaring only form mode: -32021 naming the capability.
    let (c26, _) = connect(
        &h,
        "carol",
        ProtocolVersion::V_2026_07_28,
        json!({"elicitation": {}}),
    )
    .await;
    let err = mcp_error(c26.call_tool_once(call(None)).await.unwrap_err());
    assert_eq!(err.code.0, -32021);
    assert_eq!(
        err.data.unwrap(),
        json!({"requiredCapabilities": {"elicitation": {"url": {}}}})
    );

    // 2025-11-25 declaring no elicitation: a tool error without any URL.
    let (c25, _) = connect(&h, "dave", ProtocolVersion::V_2025_11_25, json!({})).await;
    let r = complete(c25.call_tool_once(call(None)).await.unwrap());
    assert_eq!(r.is_error, Some(true));
    let text = text_of(&r);
    assert!(
        text.contains("URL-mode elicitation") && !text.contains("http"),
        "{text}"
    );
    // No pending was created for either.
    for user in ["carol", "dave"] {
        let caller = VerifiedSubject::new(Namespace::new(user).unwrap());
        assert!(h.tools.manager().list(&caller).await.unwrap().is_empty());
    }
    c26.cancel().await.unwrap();
    c25.cancel().await.unwrap();
}
