//! What a request state may be used for: a completed one runs the tool once, also under
//! concurrent retries, and a full state guard refuses instead of forgetting.

use std::sync::atomic::Ordering;

use oob::mcp::MemoryStateGuard;
use rmcp::model::ProtocolVersion;
use rmcp::service::{RoleClient, RunningService};

use crate::mcp_support::client::{
    Client, complete, input_required, text_of, url_and_state, url_mode,
};
use crate::server::{browser_submit, start, start_with};
use crate::{call, connect, mcp_error};

/// Asks, lets `user` complete the form in the browser, and returns the (now completed)
/// request state.
async fn completed_state(client: &RunningService<RoleClient, Client>, user: &str) -> String {
    let (url, state) = url_and_state(&input_required(
        client.call_tool_once(call(None)).await.unwrap(),
    ));
    assert_eq!(
        browser_submit(&url, user, &format!("gho_{user}")).await,
        200
    );
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_request_state_is_single_use() {
    let h = start().await;
    let (alice, _) = connect(&h, "alice", ProtocolVersion::V_2026_07_28, url_mode()).await;
    let (url, state) = url_and_state(&input_required(
        alice.call_tool_once(call(None)).await.unwrap(),
    ));

    // Retries while the pending is open are asked again and do not use the state up.
    for _ in 0..2 {
        input_required(
            alice
                .call_tool_once(call(Some(state.clone())))
                .await
                .unwrap(),
        );
    }
    assert_eq!(h.runs.load(Ordering::SeqCst), 0);

    // Completed: the retry proceeds and the tool runs once.
    assert_eq!(browser_submit(&url, "alice", "gho_alice").await, 200);
    let ok = complete(
        alice
            .call_tool_once(call(Some(state.clone())))
            .await
            .unwrap(),
    );
    assert!(text_of(&ok).contains("gho_alice"));
    assert_eq!(h.runs.load(Ordering::SeqCst), 1);

    // The same state again (same user, same params, not expired): rejected like any other
    // invalid state, and the tool does not run.
    for _ in 0..2 {
        let err = mcp_error(
            alice
                .call_tool_once(call(Some(state.clone())))
                .await
                .unwrap_err(),
        );
        assert_eq!(err.code.0, -32602);
        assert!(err.message.contains("already used"), "{}", err.message);
    }
    assert_eq!(h.runs.load(Ordering::SeqCst), 1);

    // A call without a state still finds the credential in the vault.
    let again = complete(alice.call_tool_once(call(None)).await.unwrap());
    assert!(text_of(&again).contains("gho_alice"));
    assert_eq!(h.runs.load(Ordering::SeqCst), 2);
    alice.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_with_one_completed_state_run_the_tool_once() {
    let h = start().await;
    let (bob, _) = connect(&h, "bob", ProtocolVersion::V_2026_07_28, url_mode()).await;
    let state = completed_state(&bob, "bob").await;
    let retries: Vec<_> = (0..8)
        .map(|_| {
            let (peer, state) = (bob.peer().clone(), state.clone());
            tokio::spawn(async move { peer.call_tool_once(call(Some(state))).await })
        })
        .collect();
    let (mut ok, mut replayed) = (0, 0);
    for r in retries {
        match r.await.unwrap() {
            Ok(response) => {
                assert!(text_of(&complete(response)).contains("gho_bob"));
                ok += 1;
            }
            Err(e) => {
                let e = mcp_error(e);
                assert!(e.message.contains("already used"), "{}", e.message);
                replayed += 1;
            }
        }
    }
    assert_eq!((ok, replayed), (1, 7));
    assert_eq!(h.runs.load(Ordering::SeqCst), 1);
    bob.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_state_guard_refuses_instead_of_forgetting() {
    let h = start_with(Some(MemoryStateGuard::with_capacity(0))).await;
    let (carol, _) = connect(&h, "carol", ProtocolVersion::V_2026_07_28, url_mode()).await;
    let state = completed_state(&carol, "carol").await;
    let err = mcp_error(carol.call_tool_once(call(Some(state))).await.unwrap_err());
    assert_eq!(err.code.0, -32600);
    assert!(err.message.contains("later"), "{}", err.message);
    assert_eq!(h.runs.load(Ordering::SeqCst), 0);
    carol.cancel().await.unwrap();
}
