//! The `secret_form` example: refusal, a validation error, the saved form, Back and reload,
//! and a double submit on a slow link.

use fantoccini::Locator;

use super::actions::{
    back_and_reload, body_text, double_submit, field, fill_secret_form, sign_in_from, wait_text,
};
use super::driver::scenario;
use super::ensure;
use super::example::{one_completion, start};

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
