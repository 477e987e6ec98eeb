//! The `device_code` and `quickstart` examples: refusal, approval or a saved key, Back and
//! reload, and a double submit on a slow link.

use std::time::{Duration, Instant};

use fantoccini::Locator;

use super::actions::{back_and_reload, double_submit, sign_in_from, wait_text};
use super::driver::scenario;
use super::ensure;
use super::example::{one_completion, start};

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
