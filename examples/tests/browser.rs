//! Real-browser tests (issue 16): headless Chromium, driven through chromedriver with the
//! `fantoccini` WebDriver client, against the examples started with `--serve`.
//!
//! For each example with a page: the owner signs in, fills, submits and sees the
//! confirmation; another user is refused and the owner's pending stays intact; Back and
//! reload after completion say "already done"; a double submit on a throttled connection
//! ends on a success page with one completion; SIGTERM and Ctrl-C stop the example and
//! remove its scratch directory. A failing scenario saves a screenshot under
//! `target/tmp/browser-screenshots/`.
//!
//! Needs `chromium` and `chromedriver` (Debian: `chromium`, `chromium-driver`; `.ci/browser.sh`
//! installs them). Without them the tests say so and pass, unless `CI` is set: then they fail.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// One browser at a time: 2 cores, and each test drives a whole Chromium.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn ensure(cond: bool, msg: impl Into<String>) -> Result<(), BoxError> {
    if cond { Ok(()) } else { Err(msg.into().into()) }
}

fn find_program(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// chromedriver on a free loopback port, killed on drop, and the session on it.
struct Browser {
    driver: Child,
    client: Client,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

async fn browser() -> Result<Option<Browser>, BoxError> {
    let chromium = find_program(&["chromium", "chromium-browser", "google-chrome"]);
    let driver = find_program(&["chromedriver"]);
    let (Some(chromium), Some(driver)) = (chromium, driver) else {
        if std::env::var_os("CI").is_some() {
            return Err(
                "CI is set but chromium or chromedriver is missing (see .ci/browser.sh)".into(),
            );
        }
        eprintln!("SKIPPED: chromium or chromedriver not installed (.ci/browser.sh installs them)");
        return Ok(None);
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err("chromedriver did not start".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let profile = tempfile::Builder::new().prefix("oob-chromium-").tempdir()?;
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1000,900",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        },
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!("an object literal")
    };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = match ClientBuilder::new(connector)
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
    {
        Ok(c) => c,
        Err(e) => {
            let _ = child.kill();
            return Err(format!("cannot start chromium through chromedriver: {e}").into());
        }
    };
    Ok(Some(Browser {
        driver: child,
        client,
        _profile: profile,
    }))
}

/// An example started with `--serve`, its interaction URL, its output lines; killed on drop.
struct Example {
    child: Child,
    url: String,
    base: String,
    lines: mpsc::Receiver<String>,
    scratch: Vec<PathBuf>,
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn scratch_dirs(name: &str) -> Vec<PathBuf> {
    let prefix = format!("oob-{name}-");
    std::fs::read_dir(std::env::temp_dir())
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

fn start(bin: &str, scratch_name: &str) -> Result<Example, BoxError> {
    start_at(bin, scratch_name, "open http://")
}

/// Starts an example with `--serve` and waits for the line holding `marker` (which ends
/// with the start of the URL to keep).
fn start_at(bin: &str, scratch_name: &str, marker: &str) -> Result<Example, BoxError> {
    let before = scratch_dirs(scratch_name);
    let mut child = Command::new(bin)
        .arg("--serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout: ChildStdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let url = loop {
        let line = lines.recv_timeout(Duration::from_secs(30))?;
        if let Some(at) = line.find(marker) {
            break line[at + marker.len() - "http://".len()..]
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    };
    let base = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    let scratch = scratch_dirs(scratch_name)
        .into_iter()
        .filter(|d| !before.contains(d))
        .collect();
    Ok(Example {
        child,
        url,
        base,
        lines,
        scratch,
    })
}

impl Example {
    /// Sends `signal` and checks the example exits 0 with its scratch directory removed.
    fn stop_with(mut self, signal: &str) -> Result<(), BoxError> {
        ensure(
            !self.scratch.is_empty(),
            "the example made a scratch directory",
        )?;
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()?;
        ensure(status.success(), "kill")?;
        let deadline = Instant::now() + Duration::from_secs(15);
        let exit = loop {
            if let Some(s) = self.child.try_wait()? {
                break s;
            }
            ensure(
                Instant::now() < deadline,
                format!("still running after SIG{signal}"),
            )?;
            std::thread::sleep(Duration::from_millis(50));
        };
        ensure(exit.success(), format!("exit after SIG{signal}: {exit}"))?;
        for d in &self.scratch {
            ensure(
                !d.exists(),
                format!(
                    "scratch directory left behind after SIG{signal}: {}",
                    d.display()
                ),
            )?;
        }
        Ok(())
    }

    /// The output lines so far.
    fn output(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }
}

async fn body_text(c: &Client) -> Result<String, BoxError> {
    Ok(c.find(Locator::Css("body")).await?.text().await?)
}

async fn wait_text(c: &Client, needle: &str) -> Result<String, BoxError> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = body_text(c).await.unwrap_or_default();
        if text.contains(needle) {
            return Ok(text);
        }
        if Instant::now() > deadline {
            return Err(format!("page never said {needle:?}; it says: {text}").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn field(c: &Client, id: &str) -> Result<Element, BoxError> {
    Ok(c.find(Locator::Id(id)).await?)
}

/// Signs in as `who` through the example's demo sign-in, starting from a refused
/// interaction page's "Sign in" link, and comes back to `url`.
async fn sign_in_from(c: &Client, url: &str, who: &str) -> Result<(), BoxError> {
    c.delete_all_cookies().await?;
    c.goto(url).await?;
    wait_text(c, "Please sign in").await?;
    c.find(Locator::Id("sign-in")).await?.click().await?;
    let user = c.wait().for_element(Locator::Id("user")).await?;
    user.clear().await?;
    user.send_keys(who).await?;
    c.find(Locator::Css("form button")).await?.click().await?;
    Ok(())
}

/// Fills the secret form's password, contact and `port` (the other fields keep their
/// defaults).
async fn fill_secret_form(c: &Client, port: &str) -> Result<(), BoxError> {
    field(c, "f-password")
        .await?
        .send_keys("correct horse battery staple")
        .await?;
    field(c, "f-contact")
        .await?
        .send_keys("alice@example.com")
        .await?;
    field(c, "f-port").await?.send_keys(port).await?;
    Ok(())
}

/// Back, then reload, after a completion: both pages say `says`.
async fn back_and_reload(c: &Client, says: &str) -> Result<(), BoxError> {
    c.back().await?;
    wait_text(c, says).await?;
    c.refresh().await?;
    wait_text(c, says).await?;
    Ok(())
}

/// After a double submit: the example's waiting tool call finished exactly once.
async fn one_completion(ex: &Example) -> Result<(), BoxError> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let finished = ex
        .output()
        .iter()
        .filter(|l| l.starts_with("tool call finished"))
        .count();
    ensure(finished == 1, format!("one completion, saw {finished}"))
}

/// chromedriver's network emulation (a Chromium extension command).
#[derive(Debug)]
struct Throttle {
    latency_ms: u64,
}

impl WebDriverCompatibleCommand for Throttle {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/chromium/network_conditions",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _url: &url::Url) -> (http::Method, Option<String>) {
        let body = serde_json::json!({
            "network_conditions": {
                "offline": false,
                "latency": self.latency_ms,
                "download_throughput": 64 * 1024,
                "upload_throughput": 64 * 1024,
            }
        });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// Runs a scenario; on failure saves a screenshot and the page source, then fails.
async fn scenario<F>(name: &str, run: F)
where
    F: AsyncFnOnce(&Client) -> Result<(), BoxError>,
{
    let _one = ONE_BROWSER.lock().await;
    let started = Instant::now();
    let b = match browser().await {
        Ok(Some(b)) => b,
        Ok(None) => return,
        Err(e) => panic!("{name}: {e}"),
    };
    let result = run(&b.client).await;
    if let Err(e) = result {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-screenshots");
        let _ = std::fs::create_dir_all(&dir);
        let shot = dir.join(format!("{name}.png"));
        if let Ok(png) = b.client.screenshot().await {
            let _ = std::fs::write(&shot, png);
        }
        if let Ok(html) = b.client.source().await {
            let _ = std::fs::write(dir.join(format!("{name}.html")), html);
        }
        // End the WebDriver session, so chromedriver closes Chromium (killing chromedriver
        // alone leaves the browser's processes running).
        let _ = b.client.clone().close().await;
        panic!("{name}: {e} (screenshot: {})", shot.display());
    }
    let _ = b.client.clone().close().await;
    eprintln!("{name}: {:.1}s", started.elapsed().as_secs_f64());
}

#[tokio::test]
async fn secret_form_in_a_browser() {
    scenario("secret_form", async |c| {
        let ex = start(env!("CARGO_BIN_EXE_secret_form"), "secret-form")?;
        // Another user: refused, learns nothing.
        sign_in_from(c, &ex.url, "mallory").await?;
        let text = wait_text(c, "belongs to another account").await?;
        ensure(
            !text.contains("database"),
            "mallory sees nothing of the form",
        )?;

        // The owner: sign in, fill, a server-side validation error first.
        sign_in_from(c, &ex.url, "alice").await?;
        wait_text(c, "Connect <your> database").await?;
        fill_secret_form(c, "70000").await?;
        field(c, "f-read_only").await?.click().await?;
        // What Chromium's own date-time picker produces: no seconds.
        c.execute(
            "document.getElementById('f-valid_until').value = '2030-01-02T03:04'",
            vec![],
        )
        .await?;
        c.find(Locator::Css("form button")).await?.click().await?;
        wait_text(c, "out of range").await?;
        ensure(
            field(c, "f-read_only").await?.is_selected().await?,
            "the checked box is still checked after a validation error",
        )?;
        let text = body_text(c).await?;
        ensure(
            !text.contains("wrong format"),
            format!("the picker's date-time is accepted: {text}"),
        )?;
        // Start over from the link (the error page is a POST answer), fill it right.
        c.goto(&ex.url).await?;
        wait_text(c, "Connect <your> database").await?;
        fill_secret_form(c, "5432").await?;
        c.execute(
            "document.getElementById('f-valid_until').value = '2030-01-02T03:04'",
            vec![],
        )
        .await?;
        c.find(Locator::Css("form button")).await?.click().await?;
        wait_text(c, "Saved. You can close this tab").await?;

        // Back, then reload: "already done", from the still-running server.
        back_and_reload(c, "Already done").await?;
        // Another user after the end: the same refusal as before.
        sign_in_from(c, &ex.url, "mallory").await?;
        wait_text(c, "belongs to another account").await?;
        ex.stop_with("TERM")
    })
    .await;
}

#[tokio::test]
async fn secret_form_double_submit_on_a_slow_link() {
    scenario("secret_form_double_submit", async |c| {
        let ex = start(env!("CARGO_BIN_EXE_secret_form"), "secret-form")?;
        sign_in_from(c, &ex.url, "alice").await?;
        wait_text(c, "Connect <your> database").await?;
        fill_secret_form(c, "5432").await?;
        double_submit(c, "form button", &["Already done", "Saved. You can close"]).await?;
        one_completion(&ex).await?;
        ex.stop_with("INT")
    })
    .await;
}

#[tokio::test]
async fn device_code_in_a_browser() {
    scenario("device_code", async |c| {
        let ex = start(env!("CARGO_BIN_EXE_device_code"), "device-code")?;
        sign_in_from(c, &ex.url, "mallory").await?;
        let text = wait_text(c, "belongs to another account").await?;
        ensure(!text.contains("WDJB-MJHT"), "mallory sees no code")?;
        sign_in_from(c, &ex.url, "alice").await?;
        wait_text(c, "WDJB-MJHT").await?;
        c.find(Locator::Css("button[value=approve]"))
            .await?
            .click()
            .await?;
        wait_text(c, "Approved").await?;
        back_and_reload(c, "Already done").await?;
        ex.stop_with("TERM")
    })
    .await;
}

#[tokio::test]
async fn oauth_redirect_in_a_browser() {
    scenario("oauth_redirect", async |c| {
        let ex = start(env!("CARGO_BIN_EXE_oauth_redirect"), "oauth-redirect")?;
        // Another user is not sent to the provider with alice's `state`.
        sign_in_from(c, &ex.url, "mallory").await?;
        wait_text(c, "created for another account").await?;
        ensure(
            c.current_url().await?.as_str().starts_with(&ex.base),
            "mallory stays on our site",
        )?;
        // A bad code from the provider: a 4xx page with a retry link.
        sign_in_from(c, &ex.url, "alice").await?;
        wait_text(c, "Fake provider").await?;
        let consent = c.current_url().await?;
        let state = consent
            .query_pairs()
            .find(|(k, _)| k == "state")
            .map(|(_, v)| v.into_owned())
            .ok_or("no state")?;
        let mut bad = url::Url::parse(&format!("{}/oauth/callback", ex.base))?;
        bad.query_pairs_mut()
            .append_pair("code", "not-a-code")
            .append_pair("state", &state);
        c.goto(bad.as_str()).await?;
        wait_text(c, "code was not accepted").await?;
        // Start again, allow (twice, on a slow link): connected.
        c.find(Locator::LinkText("Start again"))
            .await?
            .click()
            .await?;
        wait_text(c, "Fake provider").await?;
        double_submit(c, "button[value=approve]", &["Your account is connected"]).await?;
        // Reload the callback (not exchanged again), and open the link again (Back leads to
        // the provider's page).
        c.refresh().await?;
        wait_text(c, "Your account is connected").await?;
        c.goto(&ex.url).await?;
        wait_text(c, "Your account is connected").await?;
        ex.stop_with("TERM")
    })
    .await;
}

#[tokio::test]
async fn quickstart_in_a_browser() {
    scenario("quickstart", async |c| {
        let ex = start(env!("CARGO_BIN_EXE_quickstart"), "quickstart")?;
        // Another user: refused, and no form.
        sign_in_from(c, &ex.url, "mallory@example.com").await?;
        let text = wait_text(c, "belongs to another account").await?;
        ensure(!text.contains("Save"), "mallory gets no form")?;
        // The owner pastes a key and saves.
        sign_in_from(c, &ex.url, "alice@example.com").await?;
        let key = c.wait().for_element(Locator::Id("key")).await?;
        key.send_keys("sk-live-from-the-browser").await?;
        c.find(Locator::Css("form button")).await?.click().await?;
        wait_text(c, "Saved. You can close this tab").await?;
        // The waiting tool call got it.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut said = Vec::new();
        while !said
            .iter()
            .any(|l: &String| l.contains("the tool call has a key"))
        {
            ensure(
                Instant::now() < deadline,
                format!("the tool call never got the key: {said:?}"),
            )?;
            said.extend(ex.output());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Back and reload after completion.
        back_and_reload(c, "Already done").await?;
        ex.stop_with("TERM")
    })
    .await;
}

/// A double submit on a slow link, for the pages with one button: the second click lands
/// while the first is on the wire; returns the page the browser ends on once it shows one of
/// `ends`.
async fn double_submit(c: &Client, button: &str, ends: &[&str]) -> Result<String, BoxError> {
    c.issue_cmd(Throttle { latency_ms: 1500 }).await?;
    let script = format!(
        "const b = document.querySelector({button:?}); b.click(); setTimeout(() => b.click(), 300);"
    );
    c.execute(&script, vec![]).await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = body_text(c).await.unwrap_or_default();
        if ends.iter().any(|e| text.contains(e)) {
            break text;
        }
        ensure(
            Instant::now() < deadline,
            format!("no success page after a double submit: {text}"),
        )?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    c.issue_cmd(Throttle { latency_ms: 0 }).await?;
    Ok(text)
}

#[tokio::test]
async fn quickstart_and_device_code_double_submit_on_a_slow_link() {
    scenario("quickstart_double_submit", async |c| {
        let ex = start(env!("CARGO_BIN_EXE_quickstart"), "quickstart")?;
        sign_in_from(c, &ex.url, "alice@example.com").await?;
        let key = c.wait().for_element(Locator::Id("key")).await?;
        key.send_keys("sk-live-twice").await?;
        double_submit(c, "form button", &["Already done", "Saved. You can close"]).await?;
        ex.stop_with("TERM")
    })
    .await;
    scenario("device_code_double_submit", async |c| {
        let ex = start(env!("CARGO_BIN_EXE_device_code"), "device-code")?;
        sign_in_from(c, &ex.url, "alice").await?;
        wait_text(c, "WDJB-MJHT").await?;
        double_submit(c, "button[value=approve]", &["Already done", "Approved"]).await?;
        one_completion(&ex).await?;
        ex.stop_with("TERM")
    })
    .await;
}

/// An MCP client of revision 2026-07-28 for the mcp_server scenario: no elicitation handler
/// (that revision asks through `input_required`).
#[derive(Clone)]
struct McpClient(rmcp::model::ClientConfig);

impl rmcp::ClientHandler for McpClient {
    fn get_info(&self) -> rmcp::model::ClientConfig {
        self.0.clone()
    }
}

#[tokio::test]
async fn mcp_server_in_a_browser() {
    use rmcp::ClientLifecycleMode;
    use rmcp::model::{CallToolRequestParams, CallToolResponse, ProtocolVersion};
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

    scenario("mcp_server", async |c| {
        let ex = start_at(
            env!("CARGO_BIN_EXE_mcp_server"),
            "mcp-server",
            "MCP endpoint: http://",
        )?;
        // The tool call of alice's MCP host: input_required with the URL to open.
        let config: rmcp::model::ClientConfig = serde_json::from_value(serde_json::json!({
            "protocolVersion": "2026-07-28",
            "capabilities": {"elicitation": {"url": {}}},
            "clientInfo": {"name": "browser-test", "version": "1"},
        }))?;
        let transport = StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(ex.url.clone()).auth_header("alice"),
        );
        let host = rmcp::ClientServiceExt::serve_with_lifecycle(
            McpClient(config),
            transport,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await?;
        let CallToolResponse::InputRequired(ask) = host
            .call_tool_once(CallToolRequestParams::new("list_repos"))
            .await?
        else {
            return Err("expected input_required".into());
        };
        let ask = serde_json::to_value(&ask)?;
        let url = ask["inputRequests"]["upstream_token"]["params"]["url"]
            .as_str()
            .ok_or("no url")?
            .to_owned();
        let state = ask["requestState"].as_str().ok_or("no state")?.to_owned();

        // The example's demo sign-in is the cookie `session=<user>`.
        let sign_in = async |who: &str| -> Result<(), BoxError> {
            // A page of the example's own origin first (its refusal page), so the cookie
            // has a domain.
            c.goto(&url).await?;
            c.delete_all_cookies().await?;
            let set = format!("document.cookie = 'session={who}; path=/'");
            c.execute(&set, vec![]).await?;
            c.goto(&url).await?;
            Ok(())
        };
        // Another user: refused, no form.
        sign_in("mallory").await?;
        let text = wait_text(c, "another account").await?;
        ensure(!text.contains("Save"), "mallory gets no form")?;
        // The owner: the form, saved.
        sign_in("alice").await?;
        let token = c
            .wait()
            .for_element(Locator::Css("input[name=token]"))
            .await?;
        token.send_keys("gho_from_the_browser").await?;
        // A double submit on a slow link ends on a success page.
        double_submit(c, "form button", &["Already done", "Saved"]).await?;
        back_and_reload(c, "Already done").await?;
        // The host's retry runs the tool.
        let mut retry = CallToolRequestParams::new("list_repos");
        retry.request_state = Some(state);
        let CallToolResponse::Complete(result) = host.call_tool_once(retry).await? else {
            return Err("expected the tool's result after the retry".into());
        };
        ensure(result.is_error != Some(true), format!("{result:?}"))?;
        let _ = host.cancel().await;
        ex.stop_with("TERM")
    })
    .await;
}
