//! What the user does in the browser: reads the page, signs in, fills the secret form, goes
//! back and reloads, double-submits on a throttled connection.

use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, Locator};

use super::{BoxError, ensure};

pub(super) async fn body_text(c: &Client) -> Result<String, BoxError> {
    Ok(c.find(Locator::Css("body")).await?.text().await?)
}

pub(super) async fn wait_text(c: &Client, needle: &str) -> Result<String, BoxError> {
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

pub(super) async fn field(c: &Client, id: &str) -> Result<Element, BoxError> {
    Ok(c.find(Locator::Id(id)).await?)
}

/// Signs in as `who` through the example's demo sign-in, starting from a refused
/// interaction page's "Sign in" link, and comes back to `url`.
pub(super) async fn sign_in_from(c: &Client, url: &str, who: &str) -> Result<(), BoxError> {
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
pub(super) async fn fill_secret_form(c: &Client, port: &str) -> Result<(), BoxError> {
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
pub(super) async fn back_and_reload(c: &Client, says: &str) -> Result<(), BoxError> {
    c.back().await?;
    wait_text(c, says).await?;
    c.refresh().await?;
    wait_text(c, says).await?;
    Ok(())
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

/// A double submit on a slow link, for the pages with one button: the second click lands
/// while the first is on the wire; returns the page the browser ends on once it shows one of
/// `ends`.
pub(super) async fn double_submit(
    c: &Client,
    button: &str,
    ends: &[&str],
) -> Result<String, BoxError> {
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
