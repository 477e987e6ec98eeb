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
//!
//! One file each: the browser and the scenario runner (`driver`), the example under test
//! (`example`), what the user does (`actions`), and the scenarios of each example.

#[path = "browser/driver.rs"]
mod driver;

#[path = "browser/example.rs"]
mod example;

#[path = "browser/actions.rs"]
mod actions;

#[path = "browser/secret_form.rs"]
mod secret_form;

#[path = "browser/device_code_and_quickstart.rs"]
mod device_code_and_quickstart;

#[path = "browser/oauth_redirect.rs"]
mod oauth_redirect;

#[path = "browser/mcp_server.rs"]
mod mcp_server;

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

fn ensure(cond: bool, msg: impl Into<String>) -> Result<(), BoxError> {
    if cond { Ok(()) } else { Err(msg.into().into()) }
}
