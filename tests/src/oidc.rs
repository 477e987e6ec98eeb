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
            .stderr(Stdio::piped())
            .spawn()
            .expect("start node");
        // Both outputs are read on threads of their own for as long as the process lives (so
        // a later write never meets a closed pipe); the wait for `ready` has a deadline even
        // when the process prints nothing, and a failure shows what it printed on stderr.
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // After the start nobody listens: the output is only drained.
                let _ = tx.send(line);
            }
        });
        let errors = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let kept = errors.clone();
        let stderr_reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut kept = kept
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if kept.len() < 8_192 {
                    kept.push_str(&line);
                    kept.push('\n');
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let issuer = loop {
            match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) if line.starts_with("ready ") => {
                    break line["ready ".len()..].to_owned();
                }
                Ok(_) if Instant::now() < deadline => {}
                other => {
                    let _ = child.kill();
                    let _ = child.wait();
                    // Its stderr ends with it (it starts no other process): all of it is read.
                    let _ = stderr_reader.join();
                    let errors = errors
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    let why = match other {
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => "exited",
                        _ => "printed no `ready` within 20 s",
                    };
                    panic!("oidc-provider {why}; its stderr:\n{errors}");
                }
            }
        };
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

impl OidcProvider {
    /// Revokes every grant `account` (URL-safe, e.g. `alice`) gave, with its access and
    /// refresh tokens, as the user does in the provider's account settings; returns how many.
    pub async fn revoke_grants(&self, account: &str) -> usize {
        let res = reqwest::Client::new()
            .post(format!(
                "{}/test/revoke-grants?account={account}",
                self.issuer
            ))
            .send()
            .await
            .expect("the provider's revocation route");
        assert!(res.status().is_success(), "revoke-grants: {}", res.status());
        let body: serde_json::Value = res.json().await.expect("revoke-grants answer");
        body["revoked"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .expect("a count")
    }
}

/// Between two quotes after `marker` in `html` (a form's `action`, a hidden field's value).
fn attr(html: &str, marker: &str) -> Option<String> {
    let rest = &html[html.find(marker)? + marker.len()..];
    Some(
        rest[..rest.find('"')?]
            .replace("&amp;", "&")
            .replace("&#x2F;", "/"),
    )
}

/// The `Location` header of a redirect; panics without one.
pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .expect("a Location")
        .to_owned()
}

/// What the user does on the provider's consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Signs in and allows.
    Consent,
    /// Aborts (the provider answers `access_denied`).
    Decline,
}

/// The user at the provider in a browser of their own (cookies kept, redirects followed by
/// hand), from `authorize` (the provider's authorization URL with its query): signs in as
/// `login` and consents. Returns the URL the provider sends the browser back to (the first
/// one starting with `redirect`).
pub async fn consent(authorize: &str, redirect: &str, login: &str) -> String {
    at_provider(authorize, redirect, login, Decision::Consent).await
}

/// [`consent`], or a decline, as `decision` says.
pub async fn at_provider(
    authorize: &str,
    redirect: &str,
    login: &str,
    decision: Decision,
) -> String {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("browser");
    let mut url = reqwest::Url::parse(authorize).expect("authorize url");
    for _ in 0..20 {
        if url.as_str().starts_with(redirect) {
            return url.into();
        }
        let res = browser.get(url.clone()).send().await.expect("provider");
        if res.status().is_redirection() {
            url = url.join(&location(&res)).expect("redirect");
            continue;
        }
        assert_eq!(res.status(), reqwest::StatusCode::OK, "{url}");
        let html = res.text().await.expect("page");
        let action = url
            .join(&attr(&html, "action=\"").expect("a form"))
            .expect("action");
        let prompt = attr(&html, "name=\"prompt\" value=\"").expect("a prompt");
        let res = if decision == Decision::Decline {
            let abort = reqwest::Url::parse(&format!("{action}/abort")).expect("abort");
            browser.get(abort).send().await.expect("abort")
        } else {
            let form: &[(&str, &str)] = if prompt == "login" {
                &[("prompt", "login"), ("login", login), ("password", "any")]
            } else {
                &[("prompt", "consent")]
            };
            browser
                .post(action)
                .form(form)
                .send()
                .await
                .expect("provider form")
        };
        url = url.join(&location(&res)).expect("redirect");
    }
    panic!("the provider never sent the browser back");
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
