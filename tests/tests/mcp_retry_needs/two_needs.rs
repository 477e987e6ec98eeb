//! Two credentials in one tool: two needs of one glue asked one round after the other, and
//! two glues with keys of their own; the tool runs once.

use std::sync::atomic::Ordering;
use std::time::Duration;

use oob::mcp::{MemoryStateGuard, StateKeys};
use serde_json::json;

use crate::mcp_support;
use crate::server::{KEY, serve};
use crate::{accept, client26, complete, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_with_two_needs_asks_for_each_and_runs_once() {
    let s = serve(
        StateKeys::new(KEY).unwrap(),
        Duration::from_millis(200),
        MemoryStateGuard::new(),
    )
    .await;
    let c = client26(&s.base, "alice").await;
    let call =
        |state, responses| mcp_support::call_params("two_needs", json!({}), state, responses);

    let (reqs, state) =
        mcp_support::input_requests(c.call_tool_once(call(None, None)).await.unwrap());
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].0, "a");
    complete(&s.tools, &reqs[0].1, "a", "tok_a").await;

    // The first need is met; the second is asked in the answer to the same retry.
    let r = c
        .call_tool_once(call(Some(state.clone()), accept("a")))
        .await
        .expect("the second require asks instead of rejecting the state");
    let (reqs, state_b) = mcp_support::input_requests(r);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].0, "b");
    assert_eq!(s.runs.load(Ordering::SeqCst), 0);
    // The first state was used up by that retry.
    let replay = c.call_tool_once(call(Some(state), accept("a"))).await;
    assert!(format!("{replay:?}").contains("already used"), "{replay:?}");

    // Before the browser step, the retry with the second state is asked again for b only.
    let (reqs, state_b2) = mcp_support::input_requests(
        c.call_tool_once(call(Some(state_b.clone()), None))
            .await
            .unwrap(),
    );
    assert_eq!(reqs.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), ["b"]);
    complete(&s.tools, &reqs[0].1, "b", "tok_b").await;

    // Concurrent retries with one state: exactly one runs the tool.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (peer, state) = (c.peer().clone(), state_b2.clone());
        tasks.push(tokio::spawn(async move {
            peer.call_tool_once(call(Some(state), accept("b"))).await
        }));
    }
    let mut ran = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(r) => {
                assert!(text(&r).contains("tok_a+tok_b"), "{}", text(&r));
                ran += 1;
            }
            Err(e) => assert!(format!("{e:?}").contains("already used"), "{e:?}"),
        }
    }
    assert_eq!(ran, 1);
    assert_eq!(s.runs.load(Ordering::SeqCst), 1);
    // The state of the round before, never used, still runs it once (both are met now).
    let r = c.call_tool_once(call(Some(state_b), None)).await.unwrap();
    assert!(text(&r).contains("tok_a+tok_b"));
    assert_eq!(s.runs.load(Ordering::SeqCst), 2);
}

/// Two glues of different kinds, each with keys of its own, in one tool: the retry with the
/// second glue's state is passed over by the first glue's gate (not refused as forged), and
/// settled by the second's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_glues_with_their_own_keys_in_one_tool() {
    let s = serve(
        StateKeys::new(KEY).unwrap(),
        Duration::from_millis(200),
        MemoryStateGuard::new(),
    )
    .await;
    let c = client26(&s.base, "alice").await;
    let call =
        |state, responses| mcp_support::call_params("two_glues", json!({}), state, responses);

    let (reqs, state_a) =
        mcp_support::input_requests(c.call_tool_once(call(None, None)).await.unwrap());
    assert_eq!(reqs.len(), 1);
    complete(&s.tools, &reqs[0].1, "a", "tok_a").await;
    let (reqs, state_b) = mcp_support::input_requests(
        c.call_tool_once(call(Some(state_a), accept("a")))
            .await
            .unwrap(),
    );
    assert_eq!(reqs.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), ["b"]);
    complete(&s.other, &reqs[0].1, "b", "tok_b").await;
    let r = c
        .call_tool_once(call(Some(state_b.clone()), accept("b")))
        .await
        .expect("the first glue's gate passes over the second glue's state");
    assert_eq!(text(&r), r#"[{"type":"text","text":"tok_a+tok_b"}]"#);
    assert_eq!(s.runs.load(Ordering::SeqCst), 1);
    // That state was used up by the second glue.
    let replay = c.call_tool_once(call(Some(state_b), accept("b"))).await;
    assert!(format!("{replay:?}").contains("already used"), "{replay:?}");
    // A state forged under a kind this tool's glues know is refused as before.
    let forged = "oob1.eyJrIjoidXBzdHJlYW1fdG9rZW4ifQ.AAAA".to_owned();
    let r = c.call_tool_once(call(Some(forged), None)).await;
    assert!(format!("{r:?}").contains("requestState rejected"), "{r:?}");
}
