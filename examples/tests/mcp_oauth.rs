//! The `mcp_server` example itself (the binary) against real servers:
//! - `whoami` against a real OpenID Connect provider (`oidc-provider`, run by Node on a
//!   loopback port, access tokens living 2 s), driven by rmcp clients of both revisions: the
//!   call elicits the consent URL, the user consents at the provider (over HTTP), the call
//!   answers who the user is; after the access token expired the call still answers (the
//!   token was refreshed: the provider refuses an expired one); after the user revoked the
//!   grant at the provider the next call elicits a new URL;
//! - `--store postgres`: the self-test on a Postgres started by the test.
//!
//! This file starts the server; one file each: the MCP host and its user (`host`), the
//! `whoami` flows (`whoami`), and `--store` (`store_flag`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use oob_tests::oidc::{CLIENT_ID, CLIENT_SECRET, OidcProvider};

#[path = "mcp_oauth/host.rs"]
mod host;

#[path = "mcp_oauth/whoami.rs"]
mod whoami;

#[path = "mcp_oauth/store_flag.rs"]
mod store_flag;

/// How long the provider's access tokens live.
const ACCESS_TTL: Duration = Duration::from_secs(2);

/// A running `mcp_server --serve`, killed when dropped; its scratch directory lives in
/// `_tmp` (its `TMPDIR`), removed after the kill (a killed example cannot remove it itself).
struct Server {
    child: Child,
    base: String,
    _tmp: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // `_tmp` is removed when the fields drop, after the kill.
    }
}

/// Starts `mcp_server --serve` on `port`, with `op` as its OAuth provider.
fn serve(port: u16, op: &OidcProvider) -> Server {
    let tmp = tempfile::tempdir().expect("a TMPDIR for the example");
    let mut child = Command::new(env!("CARGO_BIN_EXE_mcp_server"))
        .arg("--serve")
        .env("TMPDIR", tmp.path())
        .env("MCP_SERVER_ADDR", format!("127.0.0.1:{port}"))
        .env("OAUTH_ISSUER", op.issuer())
        .env("OAUTH_CLIENT_ID", CLIENT_ID)
        .env("OAUTH_CLIENT_SECRET", CLIENT_SECRET)
        .env("OAUTH_SCOPES", "openid")
        .env("OAUTH_REFRESH_MARGIN_SECS", "0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("mcp_server starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines
            .next()
            .expect("mcp_server printed its endpoint")
            .expect("a line");
        if let Some(rest) = line.strip_prefix("MCP endpoint: ") {
            break rest.split("/mcp").next().expect("a base").to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Server {
        child,
        base,
        _tmp: tmp,
    }
}
