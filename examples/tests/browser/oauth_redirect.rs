//! The `oauth_redirect` example: another user stays on our site, a bad code from the
//! provider, a double consent on a slow link, reload after the callback.

use fantoccini::Locator;

use super::actions::{double_submit, sign_in_from, wait_text};
use super::driver::scenario;
use super::ensure;
use super::example::start;

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
