//! A real OpenID Connect provider for the OAuth tests: `oidc-provider` (OpenID Certified),
//! run by Node from `tests/oidc/` on a free loopback port, stopped when dropped.
//!
//! Its packages come from `tests/oidc/package-lock.json` (`npm ci --prefix tests/oidc`,
//! which `.ci/run` does). When Node or the packages are missing, [`OidcProvider::start`]
//! returns `None` after printing a notice (the test then skips), unless `CI` is set: then it
//! panics, so a CI run can never pass by skipping.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The client this service is registered as at the test provider.
pub const CLIENT_ID: &str = "oob-test";
/// Its secret.
pub const CLIENT_SECRET: &str = "oob-test-secret-that-is-long-enough";

/// A running `oidc-provider`.
#[derive(Debug)]
pub struct OidcProvider {
    child: Child,
    issuer: String,
}

/// A free loopback port (bound and released; the caller binds it next).
#[must_use]
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("oidc")
}

impl OidcProvider {
    /// Starts the provider with `redirect_uri` registered for [`CLIENT_ID`], access tokens
    /// living `access_ttl`. `None` (after a notice) when it cannot run here outside CI.
    #[must_use]
    pub fn start(redirect_uri: &str, access_ttl: Duration) -> Option<Self> {
        let script = dir().join("provider.mjs");
        let installed = dir().join("node_modules").join("oidc-provider").exists();
        let node = Command::new("node")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !(installed && node) {
            let why = "the OAuth tests need Node and `npm ci --prefix tests/oidc`";
            assert!(
                std::env::var_os("CI").is_none(),
                "{why} (CI is set: not skipping)"
            );
            eprintln!("skipping: {why}");
            return None;
        }
        let port = free_port();
        let mut child = Command::new("node")
            .arg(script)
            .arg(port.to_string())
            .arg(redirect_uri)
            .env("ACCESS_TTL", access_ttl.as_secs().max(1).to_string())
            .current_dir(dir())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().expect("stdout");
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut lines = BufReader::new(stdout).lines();
        let issuer = loop {
            match lines.next() {
                Some(Ok(line)) if line.starts_with("ready ") => {
                    break line["ready ".len()..].to_owned();
                }
                Some(Ok(_)) if Instant::now() < deadline => {}
                other => {
                    let _ = child.kill();
                    panic!("oidc-provider did not start: {other:?}");
                }
            }
        };
        // Keep reading its output, so a later write never meets a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Some(Self { child, issuer })
    }

    /// The issuer URL, e.g. `http://127.0.0.1:41234`.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The authorization endpoint.
    #[must_use]
    pub fn authorization_url(&self) -> String {
        format!("{}/auth", self.issuer)
    }

    /// The token endpoint.
    #[must_use]
    pub fn token_url(&self) -> String {
        format!("{}/token", self.issuer)
    }

    /// The RFC 7009 revocation endpoint.
    #[must_use]
    pub fn revocation_url(&self) -> String {
        format!("{}/token/revocation", self.issuer)
    }

    /// The userinfo endpoint (answers with the token's subject while the token is valid).
    #[must_use]
    pub fn userinfo_url(&self) -> String {
        format!("{}/me", self.issuer)
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
