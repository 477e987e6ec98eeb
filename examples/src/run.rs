//! How an example runs: its mode from the command line, its exit code, a loopback listener,
//! the shutdown signal, a scratch directory, randomness, and the store it opens.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use oob::store::{MemoryStore, SqliteStore, StoreError};

use crate::BoxError;

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
