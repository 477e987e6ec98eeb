//! Hostile input, counted (issue 20): the example binaries themselves, each started with
//! `--serve`, get
//! - the bad-id matrix (malformed, percent-encoded, homoglyph, oversized, duplicate query
//!   keys, NUL and control characters, path traversal) on every route with an id: GET and,
//!   where the route takes it, POST; signed out, as another user and as the owner;
//! - tampered, replayed and another user's `requestState` on MCP revision 2026-07-28
//!   (`mcp_server`);
//! - forged OAuth `state` and replayed callbacks (`oauth_redirect`).
//!
//! It prints one table (requests per class, 5xx, answers echoing the input, forgeries
//! accepted) and fails on any 5xx, echo or accepted forgery. The echo detector is checked
//! first on a real reflection (the demo sign-in form puts its `next` parameter back in the
//! page), so it can fail.
//!
//! Run: `CI=true cargo test -p oob-examples --all-features --test hostile -- --nocapture`.

#[path = "hostile/matrix.rs"]
mod matrix;
#[path = "hostile/mcp.rs"]
mod mcp;
#[path = "hostile/oauth.rs"]
mod oauth;
#[path = "hostile/provider.rs"]
mod provider;
#[path = "hostile/tally.rs"]
mod tally;
#[path = "hostile/wire.rs"]
mod wire;

use matrix::{Place, Route};
use tally::Tally;
use wire::{Example, Raw, send};

/// The id at the end of a pending's URL.
fn id_of(url: &str) -> String {
    url.rsplit('/').next().expect("an id").to_owned()
}

/// The echo detector flags a real reflection and nothing that was not sent.
async fn echo_detector_self_check(ex: &Example) {
    let probe = Raw {
        method: "GET",
        target: b"/login?next=/zz-echo-probe%3Cb%3E%22".to_vec(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    let reply = send(ex.authority(), &probe).await;
    assert_eq!(reply.status, 200, "the sign-in form");
    assert!(
        tally::echoes(&reply.bytes, b"/zz-echo-probe<b>\""),
        "self-check: the detector must catch the sign-in form reflecting `next` (escaped)"
    );
    assert!(
        !tally::echoes(&reply.bytes, b"zz-never-sent-probe"),
        "self-check: the detector must not flag what was not sent"
    );
    let mut t = Tally::default();
    t.answer("self-check", "probe", &reply, &[b"/zz-echo-probe<b>\""]);
    assert_eq!(
        t.failures.len(),
        1,
        "self-check: an echo is a counted failure"
    );
}

/// A `Route` with a path id on `ex`, its owner and another user signed in.
async fn path_route(ex: &Example, name: &str, prefix: &'static str, owner: &str) -> Route {
    let c = oob_examples::client().expect("an HTTP client");
    Route {
        name: name.to_owned(),
        authority: ex.authority().to_owned(),
        place: Place::Path(prefix),
        post: true,
        real: id_of(&ex.banner_url()),
        owner: oob_examples::sign_in(&c, &ex.base, owner)
            .await
            .expect("sign in"),
        stranger: oob_examples::sign_in(&c, &ex.base, "mallory")
            .await
            .expect("sign in"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_is_refused_and_never_echoed() {
    let mut tally = Tally::default();

    let quickstart = Example::start(env!("CARGO_BIN_EXE_quickstart"), "open ");
    echo_detector_self_check(&quickstart).await;
    let route = path_route(
        &quickstart,
        "quickstart /oob/api-key/{id}",
        "/oob/api-key/",
        "alice@example.com",
    )
    .await;
    matrix::run(&route, &mut tally).await;
    drop(quickstart);

    let secret_form = Example::start(env!("CARGO_BIN_EXE_secret_form"), "open ");
    let route = path_route(
        &secret_form,
        "secret_form /oob/form/{id}",
        "/oob/form/",
        "alice",
    )
    .await;
    matrix::run(&route, &mut tally).await;
    drop(secret_form);

    let device_code = Example::start(env!("CARGO_BIN_EXE_device_code"), "tool call: open ");
    let route = path_route(
        &device_code,
        "device_code /oob/device/{id}",
        "/oob/device/",
        "alice",
    )
    .await;
    matrix::run(&route, &mut tally).await;
    drop(device_code);

    let oauth_redirect = Example::start(env!("CARGO_BIN_EXE_oauth_redirect"), "open ");
    let mut route = path_route(
        &oauth_redirect,
        "oauth_redirect /oob/oauth/{id}",
        "/oob/oauth/",
        "alice",
    )
    .await;
    route.post = false;
    matrix::run(&route, &mut tally).await;
    route.name = "oauth_redirect /oauth/callback?state=".to_owned();
    route.place = Place::State("/oauth/callback");
    matrix::run(&route, &mut tally).await;
    oauth::run(&oauth_redirect, &mut tally).await;
    drop(oauth_redirect);

    // With a provider configured, so that `whoami`'s consent routes are served too.
    let (provider, provider_task) = provider::start().await;
    let mcp_server = Example::start_with(
        env!("CARGO_BIN_EXE_mcp_server"),
        "MCP endpoint: ",
        &[
            ("OAUTH_CLIENT_ID", "hostile-test"),
            ("OAUTH_AUTH_URL", &format!("{provider}/authorize")),
            ("OAUTH_TOKEN_URL", &format!("{provider}/token")),
        ],
    );
    let mut mcp = mcp::Mcp::new(&mcp_server.base);
    let (url, _) = mcp.ask("carol").await;
    let mut route = Route {
        name: "mcp_server /oob/token/{id}".to_owned(),
        authority: mcp_server.authority().to_owned(),
        place: Place::Path("/oob/token/"),
        post: true,
        real: id_of(&url),
        owner: "session=carol".to_owned(),
        stranger: "session=mallory".to_owned(),
    };
    matrix::run(&route, &mut tally).await;
    let (url, _) = mcp.ask_for("carol", ("whoami", "oauth_consent")).await;
    route.name = "mcp_server /oob/oauth/{id}".to_owned();
    route.place = Place::Path("/oob/oauth/");
    route.post = false;
    route.real = id_of(&url);
    matrix::run(&route, &mut tally).await;
    route.name = "mcp_server /oob/oauth/callback?state=".to_owned();
    route.place = Place::State("/oob/oauth/callback");
    matrix::run(&route, &mut tally).await;
    mcp::run(&mcp_server.base, &mut tally).await;
    drop(mcp_server);
    provider_task.abort();

    println!(
        "\nHostile input against the example binaries:\n\n{}",
        tally.table()
    );
    for class in [
        "bad id: malformed",
        "bad id: percent-encoded",
        "bad id: homoglyph",
        "bad id: oversized (64 KiB)",
        "bad id: duplicate query keys",
        "bad id: NUL / control chars",
        "bad id: path traversal",
        "requestState: tampered",
        "requestState: replayed",
        "requestState: cross-user",
        "oauth: forged state",
        "oauth: replayed callback",
    ] {
        assert!(tally.sent(class) > 0, "no request sent for {class}");
    }
    assert!(
        tally.failures.is_empty(),
        "{} failure(s) (5xx, echoed input or accepted forgery; see /tmp/oob-coord/BLOCKERS.md):\n{}",
        tally.failures.len(),
        tally.failures.join("\n")
    );
}
