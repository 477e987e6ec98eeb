//! The official MCP client SDKs against the `mcp_server` example itself (the binary, started
//! with `--serve`): `@modelcontextprotocol/sdk` 1.32 (TypeScript v1, 2025-11-25),
//! `@modelcontextprotocol/client` 2.4 (TypeScript v2, 2025-11-25 and 2026-07-28) and `mcp`
//! 2.3 (Python, both revisions), installed by `.ci/mcp-interop.sh install` into
//! tests/mcp-interop (pinned by its lock files). Each client script is an MCP host whose
//! "user" answers elicitations as the scenario says; this test does the browser step over
//! HTTP on the example's page (cookie `session=<user>`, the form with its anti-forgery token)
//! and checks what the host saw and what the page says afterwards.
//!
//! For each SDK on each revision it speaks: tools/list, a call that needs the secret, the
//! browser step, the result; the browser step finishing seconds after accept (one prompt);
//! decline; cancel; a client without URL mode; another user on the session (2026-07-28
//! clients open none: checked). On 2025-11-25 also the `-32042` fallback when the browser
//! step outlasts the example's accept wait: the completion notification and the host's
//! retry.
//!
//! Without Node or Python and the SDKs the tests say so and pass, except with `CI` set,
//! where a missing runtime or SDK is a failure.

#[path = "mcp_interop/support.rs"]
mod support;

use std::time::Duration;

use serde_json::Value;
use support::{
    CLIENT_GUARD, Rev, Run, Sdk, Server, Step, events_of, open, run, runner, spawn, submit,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The example's accept wait (`OobTools::DEFAULT_ACCEPT_WAIT`): how long an accepted
/// in-call elicitation waits for the browser step before answering `-32042`.
const EXAMPLE_ACCEPT_WAIT: Duration = Duration::from_secs(20);

fn result_ok(r: &Run) {
    let result = r.one("result");
    assert_eq!(result["isError"], false, "{:#?}", r.events);
    let text = result["text"].as_str().expect("result text");
    assert!(text.contains("acme/widgets"), "the tool ran: {text}");
}

fn url_of(elicit: &Value) -> String {
    elicit["url"].as_str().expect("a URL").to_owned()
}

/// Every scenario for one SDK on one revision, against one `mcp_server` process.
async fn scenarios(sdk: Sdk, rev: Rev) {
    if runner(sdk).is_none() {
        return;
    }
    let server = Server::start();
    let tag = format!("{sdk:?}-{rev:?}").to_lowercase();
    // The -32042 fallback takes the example's whole accept wait: alongside the rest.
    let fallback = async {
        if rev == Rev::V2025 {
            error_fallback(sdk, &server, &tag).await;
        }
    };
    let rest = async {
        main_flow(sdk, rev, &server, &tag).await;
        accept_before_done(sdk, rev, &server, &tag).await;
        decline_and_cancel(sdk, rev, &server, &tag).await;
        without_url_mode(sdk, rev, &server, &tag).await;
        another_users_session(sdk, rev, &server, &tag).await;
    };
    tokio::join!(fallback, rest);
}

/// tools/list, the call, the URL, the browser step, the result.
async fn main_flow(sdk: Sdk, rev: Rev, server: &Server, tag: &str) {
    let user = format!("{tag}-main");
    let r = run(sdk, rev, "accept", server, &user, Step::At(Duration::ZERO)).await;
    // Other tools may be listed too; this one must be.
    let names = r.one("tools")["names"].as_array().expect("names").clone();
    assert!(names.contains(&"list_repos".into()), "{names:?}");
    let elicit = r.one("elicit");
    assert_eq!(elicit["mode"], "url");
    let url = url_of(elicit);
    assert!(
        url.starts_with(&format!("{}/oob/token/", server.base)),
        "{url}"
    );
    result_ok(&r);
    assert_eq!(r.one("result")["prompts"], 1);
    match rev {
        Rev::V2025 => {
            // Asked in the call (URL-mode elicitation/create), with the pending id.
            assert!(elicit.get("via").is_none(), "{elicit}");
            assert_eq!(elicit["elicitationId"].as_str(), url.rsplit('/').next());
        }
        // The removed field is absent on the wire (not even empty).
        Rev::V2026 => assert!(elicit["elicitationId"].is_null(), "{elicit}"),
    }
    assert!(r.all("completed").is_empty(), "{:#?}", r.events);
    // The page: another user is refused; the owner sees "already done".
    assert_eq!(open(&url, &format!("{tag}-mallory")).await.0, 403);
    let (status, page) = open(&url, &user).await;
    assert_eq!(status, 200);
    assert!(page.contains("Already done"), "{page}");
}

/// The browser step finishes seconds after the user agreed; the SDK's own flow (the in-call
/// request on 2025-11-25, its input_required retry loop on 2026-07-28) succeeds with one
/// prompt.
async fn accept_before_done(sdk: Sdk, rev: Rev, server: &Server, tag: &str) {
    let user = format!("{tag}-late");
    let step = Step::At(Duration::from_secs(3));
    let r = run(sdk, rev, "accept", server, &user, step).await;
    result_ok(&r);
    assert_eq!(r.one("result")["prompts"], 1, "{:#?}", r.events);
    assert!(
        r.one("elicit").get("via").is_none(),
        "asked once, in the flow"
    );
}

/// 2025-11-25: the user accepts but the browser step outlasts the example's accept wait:
/// `-32042` with the same URL, one `notifications/elicitation/complete` once the step is
/// done, and the host's retry gets the result.
async fn error_fallback(sdk: Sdk, server: &Server, tag: &str) {
    let user = format!("{tag}-slow");
    // The margin covers the accept's way back to the server (the wait starts there).
    let step = Step::At(EXAMPLE_ACCEPT_WAIT + Duration::from_secs(5));
    let r = run(sdk, Rev::V2025, "accept", server, &user, step).await;
    let asked = r.all("elicit");
    assert_eq!(asked.len(), 2, "{:#?}", r.events);
    assert!(asked[0].get("via").is_none(), "first in the call");
    assert_eq!(asked[1]["via"], "error", "then -32042");
    assert_eq!(url_of(asked[0]), url_of(asked[1]), "the same pending");
    let id = asked[1]["elicitationId"]
        .as_str()
        .expect("an elicitationId");
    assert_eq!(Some(id), url_of(asked[1]).rsplit('/').next());
    assert_eq!(r.one("completed")["elicitationId"], id);
    result_ok(&r);
}

/// Decline and cancel end the pending; the model reads that the user said no; the page is
/// gone (410).
async fn decline_and_cancel(sdk: Sdk, rev: Rev, server: &Server, tag: &str) {
    for (scenario, said) in [("decline", "declined"), ("cancel", "cancelled")] {
        let user = format!("{tag}-{scenario}");
        let r = run(sdk, rev, scenario, server, &user, Step::Never).await;
        let result = r.one("result");
        assert_eq!(result["isError"], true, "{result}");
        assert!(result["text"].as_str().unwrap().contains(said), "{result}");
        assert_eq!(result["prompts"], 1, "asked once: {:#?}", r.events);
        let url = url_of(r.one("elicit"));
        assert_eq!(submit(&url, &user, "gho_late").await, 410);
    }
}

/// A client without URL mode never receives a URL.
async fn without_url_mode(sdk: Sdk, rev: Rev, server: &Server, tag: &str) {
    let user = format!("{tag}-nourl");
    let r = run(sdk, rev, "nourl", server, &user, Step::Never).await;
    assert!(r.all("elicit").is_empty(), "{:#?}", r.events);
    let base = format!("{}/oob/", server.base);
    assert!(
        !r.events.iter().any(|e| e.to_string().contains(&base)),
        "{:#?}",
        r.events
    );
    match rev {
        Rev::V2025 => {
            let result = r.one("result");
            assert_eq!(result["isError"], true);
            let text = result["text"].as_str().unwrap();
            assert!(text.contains("URL-mode elicitation"), "{text}");
        }
        Rev::V2026 => assert_eq!(r.one("error")["code"], -32021, "{:#?}", r.events),
    }
}

/// Another bearer that learns the owner's `Mcp-Session-Id` can neither call in it nor
/// `DELETE` it (404, as for an unknown session); the owner's session keeps working.
async fn another_users_session(sdk: Sdk, rev: Rev, server: &Server, tag: &str) {
    let (owner, intruder) = (format!("{tag}-owner"), format!("{tag}-intruder"));
    if rev == Rev::V2026 {
        // 2026-07-28 clients open no session (every request stands alone, bound to its
        // bearer): there is no session id to take over. The SDK must not have one.
        let child = spawn(sdk, rev, "session", server, &owner, &[&intruder]);
        let events = events_of_session(sdk, child).await;
        let connected = events
            .iter()
            .find(|e| e["event"] == "connected")
            .unwrap_or_else(|| panic!("no connected event: {events:#?}"));
        assert!(connected["sessionId"].is_null(), "{connected}");
        return;
    }
    if sdk == Sdk::Python {
        // The Python SDK cannot adopt a foreign session id: its script sends the intruder's
        // requests itself, with raw HTTP on the session id it learned.
        let child = spawn(sdk, rev, "session", server, &owner, &[&intruder]);
        let events = events_of(child).await;
        let event = events
            .iter()
            .find(|e| e["event"] == "hijack")
            .unwrap_or_else(|| panic!("no hijack event: {events:#?}"));
        assert!(event["sessionId"].is_string(), "a session: {event}");
        assert_eq!(
            event["sessions"].as_array().map(Vec::len),
            Some(1),
            "{event}"
        );
        assert_eq!(event["list"], 404, "{event}");
        assert_eq!(event["delete"], 404, "{event}");
        let after = event["ownerAfter"].as_array().expect("owner's tools");
        assert!(after.contains(&"list_repos".into()), "{event}");
        return;
    }
    let mut alice = spawn(sdk, rev, "session", server, &owner, &[]);
    let mut lines = BufReader::new(alice.stdout.take().unwrap()).lines();
    let mut session = None;
    while let Some(line) = guarded(lines.next_line()).await {
        let event: Value = serde_json::from_str(&line).unwrap_or_default();
        if event["event"] == "connected" {
            session = event["sessionId"].as_str().map(str::to_owned);
        }
        if event["event"] == "tools" {
            break;
        }
    }
    let session = session.expect("the owner's session id");
    let bob = spawn(sdk, rev, "hijack", server, &intruder, &[&session]);
    let events = events_of(bob).await;
    let event = events
        .iter()
        .find(|e| e["event"] == "hijack")
        .unwrap_or_else(|| panic!("no hijack event: {events:#?}"));
    assert!(
        event["list"] != "ok" || event["listedIn"] != session.as_str(),
        "another user listed tools in the session: {event}"
    );
    assert!(
        // The SDKs' message carries the status text of the 404.
        event["delete"]
            .as_str()
            .is_some_and(|d| d.contains("404") || d.contains("Not Found")),
        "another user's DELETE is answered 404: {event}"
    );
    // The owner's session is intact: it lists tools again, then closes normally.
    let stdin = alice.stdin.as_mut().unwrap();
    stdin.write_all(b"done\n").await.unwrap();
    let mut after = None;
    while let Some(line) = guarded(lines.next_line()).await {
        let event: Value = serde_json::from_str(&line).unwrap_or_default();
        if event["event"] == "after" {
            after = Some(event);
        }
    }
    let after = after.expect("the owner listed tools after the attempt");
    assert!(
        after["names"]
            .as_array()
            .is_some_and(|n| n.contains(&"list_repos".into())),
        "{after}"
    );
    assert!(alice.wait().await.unwrap().success());
}

/// The next line of a client's output; a client that hangs fails the test.
async fn guarded(next: impl Future<Output = std::io::Result<Option<String>>>) -> Option<String> {
    tokio::time::timeout(CLIENT_GUARD, next)
        .await
        .expect("the client hung")
        .expect("read the client's output")
}

/// A `session` client's events: the Node script waits for a line on stdin before it ends.
async fn events_of_session(sdk: Sdk, mut child: tokio::process::Child) -> Vec<Value> {
    if sdk != Sdk::Python {
        let stdin = child.stdin.as_mut().unwrap();
        stdin.write_all(b"done\n").await.unwrap();
    }
    events_of(child).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_sdk_v1_on_2025_11_25() {
    scenarios(Sdk::NodeV1, Rev::V2025).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_client_v2_on_2025_11_25() {
    scenarios(Sdk::NodeV2, Rev::V2025).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_client_v2_on_2026_07_28() {
    scenarios(Sdk::NodeV2, Rev::V2026).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_on_2025_11_25() {
    scenarios(Sdk::Python, Rev::V2025).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_on_2026_07_28() {
    scenarios(Sdk::Python, Rev::V2026).await;
}
