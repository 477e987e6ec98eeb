//! The browser: chromedriver and a headless Chromium session, one at a time, and the
//! scenario runner that saves a screenshot when a scenario fails.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};

use super::BoxError;

/// One browser at a time: 2 cores, and each test drives a whole Chromium.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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

/// Runs a scenario; on failure saves a screenshot and the page source, then fails.
pub(super) async fn scenario<F>(name: &str, run: F)
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
