//! Shared pieces of the example services: a page layout (escaping with `html-escape`), a
//! demo sign-in on `tower-sessions` (the browser user the interaction routes check), a
//! loopback server that serves until Ctrl-C or SIGTERM with the time and connection limits
//! a server facing browsers needs ([`serve`]), the run mode (`--serve`,
//! `--selftest`), a scratch directory (`tempfile`) for
//! SQLite, and small helpers for the self-tests.

use std::error::Error;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use axum::Router;
use axum::extract::{FromRequest as _, Query, Request};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use oob::Namespace;
use oob::http::{RejectionKind, SessionUser, check_same_origin};
use oob::store::{MemoryStore, SqliteStore, StoreError};
use tower_sessions::cookie::SameSite;
use tower_sessions::{MemoryStore as SessionStore, Session, SessionManagerLayer};

pub mod serve;
pub use serve::spawn_server;

/// The error type of the examples' `run` functions.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// Fails with `msg` unless `cond` holds (the self-tests' assertion).
pub fn ensure(cond: bool, msg: impl Into<String>) -> Result<(), BoxError> {
    if cond { Ok(()) } else { Err(msg.into().into()) }
}

/// Escapes text for HTML element content and double- or single-quoted attribute values.
#[must_use]
pub fn escape(s: &str) -> String {
    html_escape::encode_quoted_attribute(s).into_owned()
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
    /// `--serve`: keep serving for a person with a browser until Ctrl-C or SIGTERM.
    Serve,
    /// `--selftest`: drive the flow over real HTTP and exit 0 on success.
    Selftest,
}

/// The mode from the command line; `None` (after printing usage) for anything else.
#[must_use]
pub fn mode(name: &str) -> Option<Mode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    mode_of(name, &args, "")
}

/// The mode from `args` (the command line without the program and the example's own
/// flags, which `usage` describes for the usage line); `None` (after printing usage) for
/// anything else.
#[must_use]
pub fn mode_of(name: &str, args: &[String], usage: &str) -> Option<Mode> {
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
            eprintln!(
                "usage: cargo run -p oob-examples --bin {name} [-- [--serve | --selftest]{usage}]"
            );
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

/// Prints, in the background, how the example's waiting tool call ended: `done` describes
/// its result; a failure is printed as `tool call failed: …` (the browser tests read these
/// lines).
pub fn print_when_done<T: Send + 'static>(
    call: tokio::task::JoinHandle<Result<T, BoxError>>,
    done: impl FnOnce(T) -> String + Send + 'static,
) {
    tokio::spawn(async move {
        match call.await {
            Ok(Ok(r)) => println!("{}", done(r)),
            Ok(Err(e)) => println!("tool call failed: {e}"),
            Err(e) => println!("tool call task failed: {e}"),
        }
    });
}

/// An HTTP client that does not follow redirects (the self-tests follow them by hand).
pub fn client() -> Result<reqwest::Client, BoxError> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM, so a stopped example returns from `run` and
/// drops (removes) its scratch directory either way.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

/// `n` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], BoxError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| format!("no randomness: {e}"))?;
    Ok(b)
}

/// A scratch directory under the system temp dir (`tempfile`), removed on drop: when `run`
/// returns, also after Ctrl-C or SIGTERM.
pub fn scratch_dir(name: &str) -> Result<tempfile::TempDir, BoxError> {
    Ok(tempfile::Builder::new()
        .prefix(&format!("oob-{name}-"))
        .tempdir()?)
}

/// The demo's web sign-in, on `tower-sessions`: `GET /login?next=/path` shows a form,
/// `POST /login` records the user in the session with [`SessionUser::sign_in`] and goes on
/// to `next`, `POST /logout` ends the session. A stand-in for the service's real login:
/// anyone may sign in as anyone here. The interaction routes check the signed-in user
/// against the pending's owner (`Interaction<T, SessionUser>`).
pub fn with_sign_in(interaction_routes: Router) -> Router {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .merge(interaction_routes.layer(middleware::from_fn(sign_in_hint)))
        .layer(
            // A demo's store: tower-sessions' memory store never evicts a session (each
            // sign-in keeps one, half a kilobyte, for two weeks). A service uses a store
            // that deletes expired sessions (e.g. tower-sessions-sqlx-store's
            // `continuously_delete_expired`).
            SessionManagerLayer::new(SessionStore::default())
                // Plain HTTP on loopback; Lax so the link opened from the assistant (a
                // top-level navigation from another site) still carries the session.
                .with_secure(false)
                .with_same_site(SameSite::Lax),
        )
}

#[derive(serde::Deserialize)]
struct LoginQuery {
    #[serde(default)]
    next: String,
}

/// Runs a completion (a `Manager::complete_with` call) in a task of its own and returns what
/// it returned. A browser that goes away mid-way makes axum drop the handler's future; were
/// the completion in it, its persist step would be dropped too and the user's answer lost
/// (see `Manager::complete_with`). A task that panicked is a generic 500.
pub async fn detached<R: Send + 'static>(
    completion: impl Future<Output = Result<R, oob::Error>> + Send + 'static,
) -> Result<R, oob::http::InteractionRejection> {
    match tokio::spawn(completion).await {
        Ok(done) => Ok(done?),
        Err(_) => Err(RejectionKind::Internal.into()),
    }
}

/// Only local paths: no open redirect. A path of this site (`/`, not `//`), of printable
/// ASCII other than `\`: browsers drop tabs and newlines from a URL, so `/\t/evil.example`
/// would lead to `//evil.example`, another site (and a newline cannot go in a header).
fn local_path(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if local { next } else { "/login" }
}

async fn login_form(Query(q): Query<LoginQuery>) -> Html<String> {
    page(
        "Sign in",
        &format!(
            "<p>Demo sign-in: a real service has its own login here.</p>\
             <form method=post action=/login><input type=hidden name=next value=\"{next}\">\
             <label for=user>User</label><input id=user name=user value=alice required>\
             <p><button>Sign in</button></p></form>",
            next = escape(local_path(&q.next)),
        ),
    )
}

#[derive(serde::Deserialize)]
struct LoginForm {
    user: String,
    #[serde(default)]
    next: String,
}

async fn login(session: Session, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    // A cross-site login would sign the victim in as the attacker.
    if let Err(r) = check_same_origin(&parts) {
        return r.into_response();
    }
    let Ok(axum::Form(form)) =
        axum::Form::<LoginForm>::from_request(Request::from_parts(parts, body), &()).await
    else {
        return (
            StatusCode::BAD_REQUEST,
            page("Sign in", "<p>Bad request.</p>"),
        )
            .into_response();
    };
    let Ok(user) = form.user.trim().parse::<Namespace>() else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            page(
                "Sign in",
                "<p class=error>Enter a user name.</p><p><a href=/login>Try again</a></p>",
            ),
        )
            .into_response();
    };
    if SessionUser::sign_in(&session, &user).await.is_err() {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            page("Sign in", "<p>Could not sign in. Try again.</p>"),
        )
            .into_response();
    }
    Redirect::to(local_path(&form.next)).into_response()
}

async fn logout(session: Session) -> Response {
    let _ = SessionUser::sign_out(&session).await;
    Redirect::to("/login").into_response()
}

/// Turns the library's fixed "please sign in" refusal into a page with a sign-in link that
/// comes back to the interaction.
/// The page to come back to after signing in: the request's path, decoded (the route that
/// answered matched the decoded path), and only if it is a plain local path; a path with
/// anything else gets no way back rather than an echo of what was sent.
fn way_back(path: &str) -> Option<String> {
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    // The sign-in form's own rule for `next` (a local path), and: no `..`, short, plain
    // characters, so nothing of what was sent can come back but a real route's path.
    let plain = local_path(&decoded) == decoded
        && !decoded.contains("..")
        && decoded.len() <= 256
        && decoded
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'));
    plain.then(|| decoded.into_owned())
}

async fn sign_in_hint(req: Request, next: Next) -> Response {
    let back = way_back(req.uri().path());
    let res = next.run(req).await;
    if res.extensions().get::<RejectionKind>() != Some(&RejectionKind::NoIdentity) {
        return res;
    }
    let mut hint = (
        StatusCode::FORBIDDEN,
        page(
            RejectionKind::NoIdentity.message(),
            &format!(
                "<p>{}</p><p><a id=sign-in href=\"/login{}\">Sign in</a></p>",
                escape(RejectionKind::NoIdentity.next_step()),
                back.map(|b| format!("?next={}", escape(&b)))
                    .unwrap_or_default(),
            ),
        ),
    )
        .into_response();
    for (name, value) in res.headers() {
        if name != header::CONTENT_LENGTH && name != header::CONTENT_TYPE {
            hint.headers_mut().insert(name.clone(), value.clone());
        }
    }
    hint
}

/// Signs `who` in on the example at `base` (the self-tests' browser stand-in) and returns
/// the `Cookie` header value to send.
pub async fn sign_in(c: &reqwest::Client, base: &str, who: &str) -> Result<String, BoxError> {
    let res = c
        .post(format!("{base}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("user={who}&next=/login"))
        .send()
        .await?;
    ensure(res.status() == 303, format!("sign-in: {}", res.status()))?;
    let cookie = res
        .headers()
        .get(header::SET_COOKIE)
        .ok_or("no session cookie")?
        .to_str()?;
    Ok(cookie.split(';').next().unwrap_or_default().to_owned())
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
        ("content-security-policy", "frame-ancestors 'none'"),
        ("x-frame-options", "DENY"),
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
    fn the_sign_in_goes_back_to_a_local_path_only() {
        for local in ["/", "/oob/device/ab-12", "/a?b=c&d=%2F", "/zz<b>\""] {
            assert_eq!(local_path(local), local);
        }
        for hostile in [
            "",
            "x",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "/ /evil.example",
            "/caf\u{e9}",
            "https://evil.example",
        ] {
            assert_eq!(local_path(hostile), "/login", "{hostile:?}");
        }
    }

    #[test]
    fn the_way_back_is_a_plain_decoded_path_or_none() {
        assert_eq!(
            way_back("/oob/api-key/ab-12").as_deref(),
            Some("/oob/api-key/ab-12")
        );
        assert_eq!(
            way_back("/oob/api-key/%61%62").as_deref(),
            Some("/oob/api-key/ab")
        );
        for hostile in [
            "//evil.example/x",
            "/a/../b",
            "/a%2F..%2Fb/..",
            "/a%3Cb",
            "/a%00",
            "/a\\b",
        ] {
            assert_eq!(way_back(hostile), None, "{hostile}");
        }
        assert_eq!(way_back(&format!("/{}", "a".repeat(300))), None);
    }
}
