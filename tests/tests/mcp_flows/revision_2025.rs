//! Revision 2025-11-25 (an elicitation in the call, or -32042 and a retry): decline and
//! cancel reach the server, accept waits and then runs, one completion notifier and one
//! notification per pending and session, the notifier ends with its session, and a
//! `requestState` (a 2026-07-28 thing) is refused.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use oob::mcp::rmcp::{CANCELLED, DECLINED, UrlAsk};
use rmcp::model::{ElicitationAction, ProtocolVersion};

use crate::mcp_support::client::{GUARD, asked, complete, connect, list_repos, state_of, text_of};
use crate::mcp_support::{Options, browser_submit, start};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_2025_in_call_decline_and_cancel_reach_the_server() {
    let h = start(Options::default()).await;
    for (action, ended, said) in [
        (ElicitationAction::Decline, "declined", DECLINED),
        (ElicitationAction::Cancel, "cancelled", CANCELLED),
    ] {
        let mut c = connect(&h, "alice", ProtocolVersion::V_2025_11_25, action).await;
        let r = complete(
            c.client
                .call_tool_once(list_repos(None, None))
                .await
                .unwrap(),
        );
        let url = c.asked.try_recv().expect("asked in the call");
        assert_eq!(r.is_error, Some(true));
        assert!(text_of(&r).contains(said), "{}", text_of(&r));
        assert_eq!(state_of(&h, &url).await, ended);
        assert_eq!(h.tools.notifiers(), 0);
        c.client.cancel().await.unwrap();
        h.tools
            .manager()
            .operator()
            .clear_namespace(&oob::Namespace::new("alice").unwrap())
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_2025_in_call_accept_waits_then_runs() {
    let h = start(Options::default()).await;
    let mut c = connect(
        &h,
        "alice",
        ProtocolVersion::V_2025_11_25,
        ElicitationAction::Accept,
    )
    .await;
    let peer = c.client.peer().clone();
    let call_task = tokio::spawn(async move { peer.call_tool_once(list_repos(None, None)).await });
    let url = tokio::time::timeout(GUARD, c.asked.recv())
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(browser_submit(&url, "alice", "gho_alice").await, 200);
    let r = complete(call_task.await.unwrap().unwrap());
    assert!(text_of(&r).contains("gho_alice"));
    assert_eq!(h.runs.load(Ordering::SeqCst), 1);
    c.client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_2025_one_notifier_and_one_notification_per_pending_and_session() {
    let h = start(Options {
        accept_wait: Duration::from_millis(200),
        ..Options::default()
    })
    .await;
    let mut c = connect(
        &h,
        "alice",
        ProtocolVersion::V_2025_11_25,
        ElicitationAction::Accept,
    )
    .await;
    // Asked once in the call; the step outlasts the wait: -32042, and each retry of the same
    // session waits again instead of asking again.
    let mut id = String::new();
    for _ in 0..4 {
        let rmcp::ServiceError::McpError(e) = c
            .client
            .call_tool_once(list_repos(None, None))
            .await
            .unwrap_err()
        else {
            panic!("expected a JSON-RPC error")
        };
        assert_eq!(e.code.0, -32042);
        id = e.data.unwrap()["elicitations"][0]["elicitationId"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(h.tools.notifiers(), 1);
    }
    let url = c.asked.try_recv().unwrap();
    assert!(c.asked.try_recv().is_err(), "asked once");
    assert_eq!(browser_submit(&url, "alice", "gho_alice").await, 200);
    let notified = tokio::time::timeout(GUARD, c.completed.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(notified, id);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(c.completed.try_recv().is_err(), "one notification");
    assert_eq!(h.tools.notifiers(), 0);
    let r = complete(
        c.client
            .call_tool_once(list_repos(None, None))
            .await
            .unwrap(),
    );
    assert!(text_of(&r).contains("gho_alice"));
    c.client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_2025_notifier_ends_with_the_session() {
    let h = start(Options {
        url_ask: UrlAsk::Error,
        ..Options::default()
    })
    .await;
    let c = connect(
        &h,
        "alice",
        ProtocolVersion::V_2025_11_25,
        ElicitationAction::Accept,
    )
    .await;
    assert!(
        c.client
            .call_tool_once(list_repos(None, None))
            .await
            .is_err()
    );
    assert_eq!(h.tools.notifiers(), 1);
    c.client.cancel().await.unwrap();
    let until = Instant::now() + Duration::from_secs(10);
    while h.tools.notifiers() > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(h.tools.notifiers(), 0, "the notifier outlived its session");
}

/// A `requestState` is part of the 2026-07-28 multi-round-trip flow only: a 2025-11-25
/// session that presents one (here a genuine state alice got on a 2026 session, whose
/// pending she has since completed) is refused with invalid params, and the tool does not
/// run on it. (Found by mutation testing, 2026-12-07: the revision check could go with
/// every test passing.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_state_on_a_2025_session_is_refused() {
    let h = start(Options::default()).await;
    let new = connect(
        &h,
        "alice",
        ProtocolVersion::V_2026_07_28,
        ElicitationAction::Accept,
    )
    .await;
    let (url, state) = asked(
        new.client
            .call_tool_once(list_repos(None, None))
            .await
            .unwrap(),
    );
    assert_eq!(browser_submit(&url, "alice", "gho_alice").await, 200);
    assert_eq!(state_of(&h, &url).await, "completed");
    let old = connect(
        &h,
        "alice",
        ProtocolVersion::V_2025_11_25,
        ElicitationAction::Accept,
    )
    .await;
    let err = match old
        .client
        .call_tool_once(list_repos(Some(state), None))
        .await
    {
        Err(e) => e.to_string(),
        Ok(r) => panic!("a 2025-11-25 session used a requestState: {r:?}"),
    };
    assert!(err.contains("not part of this protocol version"), "{err}");
    assert_eq!(h.runs.load(Ordering::SeqCst), 0, "the tool ran");
    new.client.cancel().await.unwrap();
    old.client.cancel().await.unwrap();
}
