//! A request state's limits: one that expires while its retries wait runs nothing, and one
//! user filling her share of the guard does not block another.

use std::sync::atomic::Ordering;
use std::time::Duration;

use oob::mcp::{MemoryStateGuard, StateKeys};
use serde_json::json;

use crate::mcp_support;
use crate::server::{KEY, serve};
use crate::{accept, client26, complete, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_that_expires_while_its_retries_wait_runs_nothing() {
    let keys = StateKeys::new(KEY)
        .unwrap()
        .with_ttl(Duration::from_millis(1500));
    let s = serve(keys, Duration::from_secs(10), MemoryStateGuard::new()).await;
    let c = client26(&s.base, "alice").await;
    let (reqs, state) = mcp_support::input_requests(
        c.call_tool_once(mcp_support::call_params("one_need", json!({}), None, None))
            .await
            .unwrap(),
    );
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let (peer, state) = (c.peer().clone(), state.clone());
        tasks.push(tokio::spawn(async move {
            peer.call_tool_once(mcp_support::call_params(
                "one_need",
                json!({}),
                Some(state),
                accept("upstream_token"),
            ))
            .await
        }));
    }
    // Every retry opened the state before it expired and waits for the browser step.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    complete(&s.tools, &reqs[0].1, "upstream", "tok_alice").await;
    for t in tasks {
        let err = t.await.unwrap().expect_err("an expired state is refused");
        assert!(format!("{err:?}").contains("expired"), "{err:?}");
    }
    assert_eq!(s.runs.load(Ordering::SeqCst), 0);
    // The credential is there: a new call runs.
    let r = c
        .call_tool_once(mcp_support::call_params("one_need", json!({}), None, None))
        .await
        .unwrap();
    assert!(text(&r).contains("tok_alice"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_filling_her_share_of_the_guard_does_not_block_another() {
    let guard = MemoryStateGuard::with_capacity(100).with_namespace_capacity(3);
    let s = serve(
        StateKeys::new(KEY).unwrap(),
        Duration::from_millis(200),
        guard,
    )
    .await;
    let mallory = client26(&s.base, "mallory").await;
    let call = |state| mcp_support::call_params("one_need", json!({}), state, None);
    let (mut states, mut url) = (Vec::new(), String::new());
    for _ in 0..4 {
        // Every call without a state mints one, all naming the same joined pending.
        let (reqs, state) =
            mcp_support::input_requests(mallory.call_tool_once(call(None)).await.unwrap());
        url = reqs[0].1.clone();
        states.push(state);
    }
    complete(&s.tools, &url, "upstream", "tok_mallory").await;
    let last = states.pop().unwrap();
    for state in states {
        let r = mallory.call_tool_once(call(Some(state))).await.unwrap();
        assert!(text(&r).contains("tok_mallory"));
    }
    let full = mallory.call_tool_once(call(Some(last))).await;
    assert!(
        format!("{full:?}").contains("too many request states"),
        "{full:?}"
    );

    let alice = client26(&s.base, "alice").await;
    let (reqs, state) =
        mcp_support::input_requests(alice.call_tool_once(call(None)).await.unwrap());
    complete(&s.tools, &reqs[0].1, "upstream", "tok_alice").await;
    let r = alice.call_tool_once(call(Some(state))).await.unwrap();
    assert!(text(&r).contains("tok_alice"), "{}", text(&r));
}
