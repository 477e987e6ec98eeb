//! The `mcp_server` example started with `--serve` (stopped with SIGTERM on drop), the
//! official SDK client scripts in tests/mcp-interop, and the browser step over HTTP.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use oob::http::AntiForgery;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt};
use tokio::process::{Child, Command};

/// A guard against a hung client, not a timing assertion.
pub(crate) const CLIENT_GUARD: Duration = Duration::from_secs(90);

/// The `mcp_server` example, serving on a loopback port it chose and printed.
pub(crate) struct Server {
    child: std::process::Child,
    pub(crate) base: String,
    /// The example's `TMPDIR`: its scratch directory goes even if it has to be killed.
    _tmp: tempfile::TempDir,
}

impl Server {
    pub(crate) fn start() -> Self {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mcp_server"))
            .arg("--serve")
            .env("TMPDIR", tmp.path())
            // A port of its own for each server, whatever the environment says.
            .env_remove("MCP_SERVER_ADDR")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the mcp_server example");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        // Reads the banner, then keeps draining so the example never blocks on its output.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut server = Self {
            child,
            base: String::new(),
            _tmp: tmp,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while server.base.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .expect("mcp_server printed its MCP endpoint");
            // "MCP endpoint: http://127.0.0.1:PORT/mcp  (send `Authorization: Bearer ...`)"
            if let Some(rest) = line.strip_prefix("MCP endpoint: ")
                && let Some((base, _)) = rest.split_once("/mcp")
            {
                base.clone_into(&mut server.base);
            }
        }
        server
    }

    pub(crate) fn mcp_url(&self) -> String {
        format!("{}/mcp", self.base)
    }
}

impl Drop for Server {
    /// SIGTERM (the example removes its scratch directory), then SIGKILL if it lingers.
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sdk {
    /// `@modelcontextprotocol/sdk` 1.32 (2025-11-25).
    NodeV1,
    /// `@modelcontextprotocol/client` 2.4 (2025-11-25 and 2026-07-28).
    NodeV2,
    /// `mcp` 2.3 from PyPI (both revisions).
    Python,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rev {
    V2025,
    V2026,
}

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/mcp-interop")
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

/// The command that runs `sdk`'s client script, or `None` (with the reason printed) when it
/// is not installed; with `CI` set, a missing runtime or SDK panics.
pub(crate) fn runner(sdk: Sdk) -> Option<(PathBuf, PathBuf)> {
    let dir = interop_dir();
    let found = match sdk {
        Sdk::NodeV1 | Sdk::NodeV2 => {
            let package = if sdk == Sdk::NodeV1 { "sdk" } else { "client" };
            let installed = dir
                .join("node/node_modules/@modelcontextprotocol")
                .join(package)
                .join("package.json");
            which("node")
                .filter(|_| installed.exists())
                .map(|node| (node, dir.join("node/client.mjs")))
        }
        Sdk::Python => {
            let python = dir.join("python/.venv/bin/python");
            python
                .exists()
                .then(|| (python, dir.join("python/client.py")))
        }
    };
    if found.is_none() {
        let why = format!(
            "{sdk:?}: runtime or SDK not installed (.ci/mcp-interop.sh install installs them)"
        );
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("SKIPPED: {why}");
    }
    found
}

/// Starts `sdk`'s client on `rev` for `scenario` as `user` against `server`.
pub(crate) fn spawn(
    sdk: Sdk,
    rev: Rev,
    scenario: &str,
    server: &Server,
    user: &str,
    extra: &[&str],
) -> Child {
    let (program, script) = runner(sdk).expect("checked by the caller");
    let mut cmd = Command::new(program);
    cmd.arg(script);
    match sdk {
        Sdk::NodeV1 => cmd.arg("v1"),
        Sdk::NodeV2 => cmd.arg("v2"),
        Sdk::Python => &mut cmd,
    };
    cmd.arg(match (sdk, rev) {
        (Sdk::Python, Rev::V2025) => "legacy",
        (_, Rev::V2025) => "2025-11-25",
        (_, Rev::V2026) => "2026-07-28",
    });
    cmd.args([scenario, &server.mcp_url(), user])
        .args(extra)
        .current_dir(interop_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start the SDK client")
}

/// What a client printed: one JSON event per line.
pub(crate) struct Run {
    pub(crate) events: Vec<Value>,
}

impl Run {
    pub(crate) fn all(&self, event: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == event).collect()
    }

    pub(crate) fn one(&self, event: &str) -> &Value {
        let found = self.all(event);
        assert_eq!(found.len(), 1, "one {event} event in {:#?}", self.events);
        found[0]
    }
}

/// When the test's browser submits the form after the host showed a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    Never,
    /// After this delay, for the first URL shown (a URL shown again is the same pending).
    At(Duration),
}

/// Runs a client to its end, doing the browser step as `step` says.
pub(crate) async fn run(
    sdk: Sdk,
    rev: Rev,
    scenario: &str,
    server: &Server,
    user: &str,
    step: Step,
) -> Run {
    let mut child = spawn(sdk, rev, scenario, server, user, &[]);
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut events = Vec::new();
    let mut browser = None;
    let until = tokio::time::Instant::now() + CLIENT_GUARD;
    while let Some(line) = tokio::time::timeout_at(until, lines.next_line())
        .await
        .unwrap_or_else(|_| panic!("{sdk:?} {rev:?} {scenario}: hung; saw {events:#?}"))
        .expect("read the client's output")
    {
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            eprintln!("{sdk:?}: {line}");
            continue;
        };
        if event["event"] == "elicit"
            && browser.is_none()
            && let Step::At(delay) = step
        {
            let (url, user) = (
                event["url"].as_str().expect("a URL").to_owned(),
                user.to_owned(),
            );
            browser = Some(tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                submit(&url, &user, &format!("gho_{user}")).await
            }));
        }
        events.push(event);
    }
    let status = child.wait().await.expect("the client's exit status");
    if let Some(step) = browser {
        assert_eq!(step.await.expect("browser step"), 200, "the browser step");
    }
    assert!(
        status.success(),
        "{sdk:?} {rev:?} {scenario}: {status}; {events:#?}"
    );
    // The revision the test means is the one the SDK and the server agreed on.
    let connected = events
        .iter()
        .find(|e| e["event"] == "connected")
        .unwrap_or_else(|| panic!("{sdk:?} {rev:?} {scenario}: no connected event"));
    let wanted = match rev {
        Rev::V2025 => "2025-11-25",
        Rev::V2026 => "2026-07-28",
    };
    assert_eq!(
        connected["protocolVersion"], wanted,
        "{sdk:?} {rev:?} {scenario}: negotiated {connected}"
    );
    Run { events }
}

/// Reads a client's whole output as events (for clients that end on their own).
pub(crate) async fn events_of(mut child: Child) -> Vec<Value> {
    let mut out = String::new();
    tokio::time::timeout(
        CLIENT_GUARD,
        child
            .stdout
            .as_mut()
            .expect("piped")
            .read_to_string(&mut out),
    )
    .await
    .expect("the client ended")
    .expect("read the client's output");
    let _ = child.wait().await;
    out.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The browser page at `url` for `user` (cookie `session=<user>`): status and HTML.
pub(crate) async fn open(url: &str, user: &str) -> (u16, String) {
    let res = http()
        .get(url)
        .header("cookie", format!("session={user}"))
        .send()
        .await
        .expect("GET the interaction page");
    let status = res.status().as_u16();
    (status, res.text().await.expect("the page"))
}

/// The browser step as the example's page wants it: open the form as `user`, then submit
/// `token` with the page's anti-forgery token. The status of the submit, or of the page when
/// it shows no form.
pub(crate) async fn submit(url: &str, user: &str, token: &str) -> u16 {
    let (status, html) = open(url, user).await;
    let field = format!("name={} value=\"", AntiForgery::FIELD);
    let Some(csrf) = html
        .split_once(&field)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(csrf, _)| csrf.to_owned())
    else {
        return status;
    };
    http()
        .post(url)
        .header("cookie", format!("session={user}"))
        .form(&[("token", token), (AntiForgery::FIELD, &csrf)])
        .send()
        .await
        .expect("POST the form")
        .status()
        .as_u16()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}
