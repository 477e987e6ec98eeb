//! `requestState` on revision 2026-07-28 of the `mcp_server` example, as raw JSON-RPC over
//! HTTP: tampered, replayed and another user's. Each must be refused (a JSON-RPC error or a
//! tool error), never answered with the tool's result (which only the upstream token
//! unlocks) or with another user's pending, and never with a 5xx.

use oob::http::AntiForgery;
use oob_examples::between;
use serde_json::{Value, json};

use crate::tally::Tally;

const TAMPERED: &str = "requestState: tampered";
const REPLAYED: &str = "requestState: replayed";
const CROSS_USER: &str = "requestState: cross-user";

/// What only a caller with the upstream token gets: the tool's result.
const SECRET: &str = "acme/widgets";

/// One JSON-RPC message of an SSE or JSON body.
fn json_rpc(body: &str) -> Value {
    let data = body
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or(body);
    serde_json::from_str(data).unwrap_or(Value::Null)
}

/// An answer to `tools/call`.
pub(crate) struct Answer {
    status: u16,
    body: String,
    msg: Value,
}

impl Answer {
    /// A JSON-RPC error, or a tool result flagged as an error.
    fn refused(&self) -> bool {
        self.status < 500
            && !self.body.contains(SECRET)
            && (self.msg.get("error").is_some()
                || self.msg["result"]["isError"] == true
                || !(200..300).contains(&self.status))
    }
}

pub(crate) struct Mcp {
    http: reqwest::Client,
    url: String,
    next_id: u64,
}

impl Mcp {
    pub(crate) fn new(base: &str) -> Self {
        Self {
            http: oob_examples::client().expect("an HTTP client"),
            url: format!("{base}/mcp"),
            next_id: 1,
        }
    }

    /// `tools/call list_repos` as `user` on 2026-07-28, with `state` and an accept for the
    /// upstream token when given.
    pub(crate) async fn call(&mut self, user: &str, state: Option<&str>) -> Answer {
        self.call_tool(user, ("list_repos", "upstream_token"), state)
            .await
    }

    /// `tools/call` of `tool` (whose input request is named `key`) as `user` on 2026-07-28,
    /// with `state` and an accept when given.
    async fn call_tool(
        &mut self,
        user: &str,
        (tool, key): (&str, &str),
        state: Option<&str>,
    ) -> Answer {
        self.next_id += 1;
        let mut params = json!({"name": tool, "arguments": {}, "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {"url": {}}},
            "io.modelcontextprotocol/clientInfo": {"name": "hostile", "version": "1"}}});
        if let Some(state) = state {
            params["requestState"] = state.into();
            params["inputResponses"] = json!({ key: {"action": "accept"} });
        }
        let body = json!({"jsonrpc": "2.0", "id": self.next_id, "method": "tools/call",
            "params": params});
        let res = self
            .http
            .post(&self.url)
            .header("authorization", format!("Bearer {user}"))
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", tool)
            .json(&body)
            .send()
            .await
            .expect("POST /mcp");
        let status = res.status().as_u16();
        let body = res.text().await.expect("the answer");
        let msg = json_rpc(&body);
        Answer { status, body, msg }
    }

    /// A fresh `input_required` for `user`: the URL to open and the `requestState`.
    pub(crate) async fn ask(&mut self, user: &str) -> (String, String) {
        self.ask_for(user, ("list_repos", "upstream_token")).await
    }

    /// A fresh `input_required` of `tool` (input request `key`) for `user`: the URL to open
    /// and the `requestState`.
    pub(crate) async fn ask_for(
        &mut self,
        user: &str,
        (tool, key): (&str, &str),
    ) -> (String, String) {
        let a = self.call_tool(user, (tool, key), None).await;
        let r = &a.msg["result"];
        assert_eq!(
            r["resultType"], "input_required",
            "{}: {}",
            a.status, a.body
        );
        let url = r["inputRequests"][key]["params"]["url"]
            .as_str()
            .expect("a URL")
            .to_owned();
        let state = r["requestState"]
            .as_str()
            .expect("a requestState")
            .to_owned();
        (url, state)
    }
}

/// The browser step: `user` (cookie `session=<user>`) saves an upstream token on `url`.
pub(crate) async fn save_token(url: &str, user: &str) {
    let c = oob_examples::client().expect("an HTTP client");
    let cookie = format!("session={user}");
    let html = c
        .get(url)
        .header("cookie", &cookie)
        .send()
        .await
        .expect("GET the form")
        .text()
        .await
        .expect("the form");
    let field = format!("name={} value=\"", AntiForgery::FIELD);
    let csrf = between(&html, &field, "\"").expect("an anti-forgery token");
    let res = c
        .post(url)
        .header("cookie", &cookie)
        .form(&[
            ("token", format!("gho_{user}").as_str()),
            (AntiForgery::FIELD, csrf),
        ])
        .send()
        .await
        .expect("POST the form");
    assert_eq!(res.status(), 200, "the owner saves the token");
}

/// Counts one forged call: refused or accepted, 5xx, and whether it echoes `state` or
/// reveals `other_url` (another user's pending).
fn count(
    tally: &mut Tally,
    class: &'static str,
    what: &str,
    a: &Answer,
    state: &str,
    other_url: &str,
) {
    tally.http(class, what, a.status, &a.body, &[state.as_bytes()]);
    let leaked = !other_url.is_empty()
        && a.body
            .contains(other_url.rsplit('/').next().unwrap_or(other_url));
    tally.forgery(
        class,
        &format!(
            "{what}: {} {}",
            a.status,
            a.body.chars().take(300).collect::<String>()
        ),
        !a.refused() || leaked,
    );
}

/// The tampered variants of `state`.
fn tampered(state: &str) -> Vec<(String, String)> {
    let flip = |at: usize| {
        let mut b = state.as_bytes().to_vec();
        b[at] = if b[at] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).expect("ASCII")
    };
    let n = state.len();
    vec![
        ("first byte changed".into(), flip(0)),
        ("middle byte changed".into(), flip(n / 2)),
        ("last byte changed".into(), flip(n - 1)),
        ("truncated".into(), state[..n - 1].to_owned()),
        ("extended".into(), format!("{state}A")),
        (
            "inserted byte".into(),
            format!("{}x{}", &state[..10], &state[10..]),
        ),
        (
            "case swapped".into(),
            state
                .chars()
                .map(|c| {
                    if c.is_ascii_lowercase() {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect(),
        ),
        ("garbage".into(), "zz-not-a-request-state".into()),
        (
            "JSON".into(),
            r#"{"ns":"alice","ids":[],"zz":"forged"}"#.into(),
        ),
        (
            "NUL and controls".into(),
            format!("{}\0\r\n{}", &state[..n / 2], &state[n / 2..]),
        ),
        ("64 KiB".into(), "zzA".repeat(64 * 1024 / 3)),
        ("empty".into(), String::new()),
    ]
}

/// All three classes against one `mcp_server`.
pub(crate) async fn run(base: &str, tally: &mut Tally) {
    let mut mcp = Mcp::new(base);
    // Alice is asked; tampered states are refused before and after she saves her token.
    let (alice_url, alice_state) = mcp.ask("alice").await;
    for (what, forged) in tampered(&alice_state) {
        let a = mcp.call("alice", Some(&forged)).await;
        count(
            tally,
            TAMPERED,
            &format!("alice, open pending, {what}"),
            &a,
            &forged,
            "",
        );
    }
    // Another user with alice's state, while her pending is open.
    let a = mcp.call("bob", Some(&alice_state)).await;
    count(
        tally,
        CROSS_USER,
        "bob with alice's state, pending open",
        &a,
        &alice_state,
        &alice_url,
    );
    let a = mcp.call("Alice", Some(&alice_state)).await;
    count(
        tally,
        CROSS_USER,
        "`Alice` with alice's state",
        &a,
        &alice_state,
        &alice_url,
    );
    // Erin is asked too, then both save their tokens.
    let (erin_url, erin_state) = mcp.ask("erin").await;
    save_token(&alice_url, "alice").await;
    save_token(&erin_url, "erin").await;
    // Bob with erin's state of a completed pending: the tool must not run for bob.
    let a = mcp.call("bob", Some(&erin_state)).await;
    count(
        tally,
        CROSS_USER,
        "bob with erin's state, pending completed",
        &a,
        &erin_state,
        &erin_url,
    );
    // The owners' retries run the tool (the legitimate path, so refusals above mean something).
    for (user, state) in [("alice", &alice_state), ("erin", &erin_state)] {
        let a = mcp.call(user, Some(state)).await;
        assert!(
            a.status == 200 && a.body.contains(SECRET),
            "{user}'s own retry runs the tool: {} {}",
            a.status,
            a.body
        );
    }
    // Replays: the same state again by its owner, twice, and by another user.
    for (user, state) in [
        ("alice", &alice_state),
        ("erin", &erin_state),
        ("alice", &alice_state),
    ] {
        let a = mcp.call(user, Some(state)).await;
        count(
            tally,
            REPLAYED,
            &format!("{user} replays own state"),
            &a,
            state,
            "",
        );
    }
    let a = mcp.call("bob", Some(&alice_state)).await;
    count(
        tally,
        CROSS_USER,
        "bob replays alice's used state",
        &a,
        &alice_state,
        &alice_url,
    );
    let a = mcp.call("erin", Some(&alice_state)).await;
    count(
        tally,
        CROSS_USER,
        "erin (with a token) replays alice's used state",
        &a,
        &alice_state,
        "",
    );
    // Tampered after completion, by another user who has no token.
    for (what, forged) in tampered(&erin_state).into_iter().take(6) {
        let a = mcp.call("bob", Some(&forged)).await;
        count(
            tally,
            TAMPERED,
            &format!("bob, {what} (erin's completed)"),
            &a,
            &forged,
            &erin_url,
        );
    }
}
