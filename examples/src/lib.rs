//! Shared pieces of the example services: HTML escaping and a page layout, a loopback server,
//! the run mode (`--serve`, `--selftest`), an HMAC signer for anti-forgery tokens and OAuth
//! `state`, a scratch directory for SQLite, and small helpers for the self-tests.

use std::error::Error;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use axum::Router;
use axum::response::Html;
use hmac::{Hmac, KeyInit, Mac};
use oob::store::{MemoryStore, SqliteStore, StoreError};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The error type of the examples' `run` functions.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// Fails with `msg` unless `cond` holds (the self-tests' assertion).
pub fn ensure(cond: bool, msg: impl Into<String>) -> Result<(), BoxError> {
    if cond { Ok(()) } else { Err(msg.into().into()) }
}

/// Escapes text for HTML element content and double- or single-quoted attribute values.
#[must_use]
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `title` is escaped here, `body` must be escaped HTML already.
pub fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width\">\
         <title>{t}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem}}\
         label{{display:block;margin:.8rem 0 .2rem}}.error{{color:#a00}}\
         code.big{{font-size:2rem;letter-spacing:.2rem}}</style></head>\
         <body><h1>{t}</h1>\n{body}\n</body></html>\n",
        t = escape(title),
    ))
}

/// How an example runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The example's default.
    Default,
    /// `--serve`: keep serving for a person with a browser.
    Serve,
    /// `--selftest`: drive the flow over real HTTP and exit 0 on success.
    Selftest,
}

/// The mode from the command line; `None` (after printing usage) for anything else.
#[must_use]
pub fn mode(name: &str) -> Option<Mode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => Some(Mode::Default),
        ["--serve"] => Some(Mode::Serve),
        ["--selftest"] => Some(Mode::Selftest),
        _ => {
            eprintln!("usage: cargo run -p oob-examples --bin {name} [-- --serve | --selftest]");
            None
        }
    }
}

/// Runs an example's `run` and turns its result into the exit code.
pub fn exit(name: &str, result: Result<(), BoxError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name} failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A listener on 127.0.0.1 with an OS-chosen port, and its `http://` base URL.
pub async fn bind() -> Result<(tokio::net::TcpListener, String), BoxError> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let base = format!("http://{}", listener.local_addr()?);
    Ok((listener, base))
}

/// Serves `app` on `listener` in a background task.
pub fn spawn_server(listener: tokio::net::TcpListener, app: Router) {
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("server stopped: {e}");
        }
    });
}

/// An HTTP client that does not follow redirects (the self-tests follow them by hand).
pub fn client() -> Result<reqwest::Client, BoxError> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

/// Waits for Ctrl-C.
pub async fn until_ctrl_c() {
    if tokio::signal::ctrl_c().await.is_err() {
        // No signal handling available: serve until killed.
        std::future::pending::<()>().await;
    }
}

/// `n` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], BoxError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| format!("no randomness: {e}"))?;
    Ok(b)
}

/// Lower-case hex.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// HMAC-SHA256 tokens under a random server key: anti-forgery tokens and OAuth `state`
/// values bound to one pending id, verified in constant time.
#[derive(Clone)]
pub struct Signer {
    key: [u8; 32],
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(..)")
    }
}

impl Signer {
    /// A signer with a fresh random key.
    pub fn random() -> Result<Self, BoxError> {
        Ok(Self {
            key: random_bytes()?,
        })
    }

    fn mac(&self, purpose: &str, message: &str) -> [u8; 32] {
        // HMAC accepts keys of any length: this cannot fail.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(message.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The token for `message` (e.g. a pending id) and `purpose` (e.g. `"csrf"`), as hex.
    #[must_use]
    pub fn sign(&self, purpose: &str, message: &str) -> String {
        hex(&self.mac(purpose, message))
    }

    /// Whether `token` is the token for `message` and `purpose` (constant-time compare).
    #[must_use]
    pub fn verify(&self, purpose: &str, message: &str, token: &str) -> bool {
        let Some(given) = unhex(token) else {
            return false;
        };
        let expected = self.mac(purpose, message);
        given.len() == expected.len() && bool::from(expected.ct_eq(given.as_slice()))
    }
}

/// A scratch directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// A new, empty directory.
    pub fn new(name: &str) -> Result<Self, BoxError> {
        let dir = std::env::temp_dir().join(format!(
            "oob-{name}-{}-{}",
            std::process::id(),
            hex(&random_bytes::<6>()?)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }

    /// Its path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A store an example can open in a scratch directory, so switching an example between
/// stores is one line (its `type Store = ...;`).
pub trait OpenStore: Sized {
    /// Opens the store; file-backed stores keep their file in `dir`.
    fn open_in(dir: &Path) -> Result<Self, StoreError>;
}

impl<T> OpenStore for MemoryStore<T> {
    fn open_in(_dir: &Path) -> Result<Self, StoreError> {
        Ok(MemoryStore::new())
    }
}

impl<T: Send + Sync + 'static> OpenStore for SqliteStore<T> {
    fn open_in(dir: &Path) -> Result<Self, StoreError> {
        SqliteStore::open(dir.join("oob.sqlite3"))
    }
}

/// The text between the first `start` and the next `end` after it.
#[must_use]
pub fn between<'a>(haystack: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = haystack.find(start)? + start.len();
    let len = haystack[from..].find(end)?;
    Some(&haystack[from..from + len])
}

/// Checks the interaction headers on a response.
pub fn ensure_interaction_headers(res: &reqwest::Response) -> Result<(), BoxError> {
    let h = res.headers();
    for (name, value) in [
        ("cache-control", "no-store"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
    ] {
        ensure(
            h.get(name).is_some_and(|v| v == value),
            format!("missing `{name}: {value}` on {}", res.url().path()),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;"
        );
    }

    #[test]
    fn signer_round_trip() {
        let s = Signer::random().unwrap();
        let t = s.sign("csrf", "id-1");
        assert!(s.verify("csrf", "id-1", &t));
        assert!(!s.verify("csrf", "id-2", &t));
        assert!(!s.verify("state", "id-1", &t));
        assert!(!s.verify("csrf", "id-1", &t[..10]));
        assert!(!s.verify("csrf", "id-1", "zz"));
        assert!(!s.verify("csrf", "id-1", "é"));
    }
}
