//! The official MCP client SDKs against the oob glue on 127.0.0.1: `@modelcontextprotocol/sdk`
//! (TypeScript v1, 2025-11-25), `@modelcontextprotocol/client` (TypeScript v2, 2025-11-25 and
//! 2026-07-28) and `mcp` (Python, both revisions), installed by `.ci/mcp-interop.sh` into
//! tests/mcp-interop (pinned by its lock files). Each client script is an MCP host whose
//! "user" answers elicitations as the scenario says; this test performs the browser step
//! over HTTP and checks what the host and the server saw.
//!
//! Without the SDKs installed the tests say so and pass, except with `CI` set, where a
//! missing runtime or SDK is a failure.

mod mcp_support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use mcp_support::{Harness, Options, browser_submit, start};
use oob::AnyPending;
use oob::mcp::rmcp::UrlAsk;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// A guard against a hung client, not a timing assertion.
const CLIENT_GUARD: Duration = Duration::from_secs(50);

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("mcp-interop")
}

/// The command that runs `sdk`'s client, or `None` (with the reason printed) when it is not
/// installed; with `CI` set, a missing runtime or SDK panics.
fn runner(sdk: Sdk) -> Option<(PathBuf, Vec<String>)> {
    let dir = interop_dir();
    let found = match sdk {
        Sdk::NodeV1 | Sdk::NodeV2 => {
            let package = if sdk == Sdk::NodeV1 { "sdk" } else { "client" };
            let installed = dir
                .join("node/node_modules/@modelcontextprotocol")
                .join(package)
                .join("package.json");
            which("node").filter(|_| installed.exists()).map(|node| {
                (
                    node,
                    vec![dir.join("node/client.mjs").display().to_string()],
                )
            })
        }
        Sdk::Python => {
            let python = dir.join("python/.venv/bin/python");
            python.exists().then(|| {
                (
                    python,
                    vec![dir.join("python/client.py").display().to_string()],
                )
            })
        }
    };
    if found.is_none() {
        let why = format!(
            "{sdk:?}: runtime or SDK not installed (run .ci/mcp-interop.sh to install them)"
        );
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("skipped: {why}");
    }
    found
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sdk {
    NodeV1,
    NodeV2,
    Python,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rev {
    V2025,
    V2026,
}

/// When the test's browser submits the form after the host showed the URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Browser {
    Never,
    At(Duration),
}

struct Run {
    events: Vec<Value>,
}

impl Run {
    fn all(&self, event: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == event).collect()
    }

    fn one(&self, event: &str) -> &Value {
        let found = self.all(event);
        assert_eq!(found.len(), 1, "one {event} event in {:#?}", self.events);
        found[0]
    }
}

fn spawn(
    sdk: Sdk,
    rev: Rev,
    scenario: &str,
    h: &Harness,
    user: &str,
    extra: &[&str],
) -> Option<Child> {
    let (program, mut args) = runner(sdk)?;
    match sdk {
        Sdk::NodeV1 => args.push("v1".into()),
        Sdk::NodeV2 => args.push("v2".into()),
        Sdk::Python => {}
    }
    args.push(match (sdk, rev) {
        (Sdk::Python, Rev::V2025) => "legacy".into(),
        (_, Rev::V2025) => "2025-11-25".into(),
        (_, Rev::V2026) => "2026-07-28".into(),
    });
    args.push(scenario.into());
    args.push(format!("{}/mcp", h.base));
    args.push(user.into());
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    Some(
        Command::new(program)
            .args(args)
            .current_dir(interop_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap(),
    )
}

/// Runs a client to its end, doing the browser step as `browser` says for each URL shown.
async fn run(
    sdk: Sdk,
    rev: Rev,
    scenario: &str,
    h: &Harness,
    user: &str,
    browser: Browser,
) -> Option<Run> {
    let mut child = spawn(sdk, rev, scenario, h, user, &[])?;
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut events = Vec::new();
    let mut steps = Vec::new();
    let until = Instant::now() + CLIENT_GUARD;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let line = tokio::time::timeout(left, lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("{sdk:?} {rev:?} {scenario}: hung; saw {events:#?}"))
            .unwrap();
        let Some(line) = line else { break };
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            eprintln!("{sdk:?}: {line}");
            continue;
        };
        if event["event"] == "elicit"
            && let Browser::At(delay) = browser
        {
            let (url, user) = (event["url"].as_str().unwrap().to_owned(), user.to_owned());
            steps.push(tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                browser_submit(&url, &user, &format!("gho_{user}")).await
            }));
        }
        events.push(event);
    }
    let status = child.wait().await.unwrap();
    for step in steps {
        assert_eq!(step.await.unwrap(), 200, "the browser step");
    }
    assert!(
        status.success(),
        "{sdk:?} {rev:?} {scenario}: {status}; {events:#?}"
    );
    Some(Run { events })
}

async fn state_of(h: &Harness, url: &str) -> &'static str {
    let id = url.rsplit('/').next().unwrap().parse().unwrap();
    match h.tools.manager().get(id).await.unwrap() {
        AnyPending::Open(_) => "open",
        AnyPending::Completed(_) => "completed",
        AnyPending::Cancelled(p) if p.is_declined() => "declined",
        AnyPending::Cancelled(_) => "cancelled",
        _ => "other",
    }
}

/// Every scenario for one SDK on one revision.
async fn scenarios(sdk: Sdk, rev: Rev) {
    if runner(sdk).is_none() {
        return;
    }
    let tag = format!("{sdk:?}-{rev:?}").to_lowercase();
    let asking = start(Options::default()).await;
    let erroring = start(Options {
        url_ask: UrlAsk::Error,
        ..Options::default()
    })
    .await;

    // The main flow: tools/list, the call, the URL, the browser step, the result. On
    // 2025-11-25 through -32042, the completion notification and the host's retry.
    let main_server = if rev == Rev::V2025 {
        &erroring
    } else {
        &asking
    };
    let user = format!("{tag}-main");
    let r = run(
        sdk,
        rev,
        "accept",
        main_server,
        &user,
        Browser::At(Duration::ZERO),
    )
    .await
    .unwrap();
    assert_eq!(r.one("tools")["names"], serde_json::json!(["list_repos"]));
    let elicit = r.one("elicit");
    assert_eq!(elicit["mode"], "url");
    let url = elicit["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/oob/token/", main_server.base)),
        "{url}"
    );
    let result = r.one("result");
    assert_eq!(result["isError"], false, "{result}");
    assert!(
        result["text"]
            .as_str()
            .unwrap()
            .contains(&format!("gho_{user}"))
    );
    assert_eq!(result["prompts"], 1);
    match rev {
        Rev::V2025 => {
            assert_eq!(elicit["via"], "error");
            assert_eq!(elicit["elicitationId"].as_str(), url.rsplit('/').next());
            assert_eq!(r.one("completed")["elicitationId"], elicit["elicitationId"]);
        }
        Rev::V2026 => {
            // The removed field is absent on the wire (not even empty).
            assert!(elicit["elicitationId"].is_null(), "{elicit}");
            assert!(r.all("completed").is_empty());
        }
    }
    assert_eq!(state_of(main_server, url).await, "completed");

    // Accept before done: the browser step finishes seconds after the user agreed; the
    // SDK's own flow (its retry loop on 2026-07-28, the in-call request on 2025-11-25)
    // succeeds with one prompt.
    let user = format!("{tag}-late");
    let r = run(
        sdk,
        rev,
        "accept",
        &asking,
        &user,
        Browser::At(Duration::from_secs(2)),
    )
    .await
    .unwrap();
    let result = r.one("result");
    assert_eq!(result["isError"], false, "{:#?}", r.events);
    assert!(
        result["text"]
            .as_str()
            .unwrap()
            .contains(&format!("gho_{user}"))
    );
    assert_eq!(result["prompts"], 1, "{:#?}", r.events);
    assert!(r.one("elicit").get("via").is_none(), "asked in the call");

    // Decline and cancel end the pending; the model reads that the user said no.
    for (scenario, ended, said) in [
        ("decline", "declined", "declined"),
        ("cancel", "cancelled", "cancelled"),
    ] {
        let user = format!("{tag}-{scenario}");
        let r = run(sdk, rev, scenario, &asking, &user, Browser::Never)
            .await
            .unwrap();
        let result = r.one("result");
        assert_eq!(result["isError"], true, "{result}");
        assert!(result["text"].as_str().unwrap().contains(said), "{result}");
        assert_eq!(result["prompts"], 1, "asked once: {:#?}", r.events);
        let url = r.one("elicit")["url"].as_str().unwrap().to_owned();
        assert_eq!(state_of(&asking, &url).await, ended);
        assert_eq!(browser_submit(&url, &user, "gho_late").await, 410);
    }

    // A client without URL mode never receives a URL.
    let user = format!("{tag}-nourl");
    let r = run(sdk, rev, "nourl", &asking, &user, Browser::Never)
        .await
        .unwrap();
    assert!(r.all("elicit").is_empty(), "{:#?}", r.events);
    assert!(
        !r.events
            .iter()
            .any(|e| e.to_string().contains("/oob/token/"))
    );
    match rev {
        Rev::V2025 => {
            let result = r.one("result");
            assert_eq!(result["isError"], true);
            assert!(
                result["text"]
                    .as_str()
                    .unwrap()
                    .contains("URL-mode elicitation")
            );
        }
        Rev::V2026 => assert_eq!(r.one("error")["code"], -32021, "{:#?}", r.events),
    }
    let caller = oob::provider::VerifiedSubject::new(oob::Namespace::new(user).unwrap());
    assert!(
        asking
            .tools
            .manager()
            .list(&caller)
            .await
            .unwrap()
            .is_empty()
    );

    // Another user's session (streamable-HTTP sessions exist on 2025-11-25).
    if rev == Rev::V2025 && sdk != Sdk::Python {
        hijack(sdk, &asking, &tag).await;
    }
}

async fn hijack(sdk: Sdk, h: &Harness, tag: &str) {
    let owner = format!("{tag}-owner");
    let mut alice = spawn(sdk, Rev::V2025, "session", h, &owner, &[]).unwrap();
    let mut lines = BufReader::new(alice.stdout.take().unwrap()).lines();
    let session = loop {
        let line = tokio::time::timeout(CLIENT_GUARD, lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .expect("the owner's session");
        let event: Value = serde_json::from_str(&line).unwrap();
        if event["event"] == "tools" {
            break None;
        }
        if event["event"] == "connected" {
            break event["sessionId"].as_str().map(str::to_owned);
        }
    }
    .expect("a session id");
    let mut bob = spawn(
        sdk,
        Rev::V2025,
        "hijack",
        h,
        &format!("{tag}-intruder"),
        &[&session],
    )
    .unwrap();
    let mut out = String::new();
    tokio::io::AsyncReadExt::read_to_string(bob.stdout.as_mut().unwrap(), &mut out)
        .await
        .unwrap();
    let _ = bob.wait().await;
    let event: Value = out
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["event"] == "hijack")
        .unwrap_or_else(|| panic!("no hijack event: {out}"));
    assert!(
        event["list"] != "ok" || event["listedIn"] != session.as_str(),
        "another user listed tools in the session: {event}"
    );
    assert_ne!(
        event["delete"], "ok",
        "another user deleted the session: {event}"
    );
    // The owner's session is intact: it closes normally.
    alice
        .stdin
        .as_mut()
        .unwrap()
        .write_all(b"done\n")
        .await
        .unwrap();
    assert!(alice.wait().await.unwrap().success());
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
