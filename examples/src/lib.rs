//! Shared pieces of the example services: a page layout (escaping with `html-escape`), a
//! demo sign-in on `tower-sessions` (the browser user the interaction routes check), a
//! loopback server that serves until Ctrl-C or SIGTERM with the time and connection limits
//! a server facing browsers needs ([`serve`]), the run mode (`--serve`,
//! `--selftest`), a scratch directory (`tempfile`) for
//! SQLite, and small helpers for the self-tests.
//!
//! One module each: the page layout (`html`), how an example runs (`run`), the demo
//! sign-in (`login`), and the self-tests' client (`selftest`); their items are re-exported
//! here.

use std::error::Error;

use oob::http::RejectionKind;

mod html;
mod login;
mod run;
mod selftest;
pub mod serve;

pub use html::{escape, page};
pub use login::with_sign_in;
pub use run::{
    Mode, OpenStore, bind, exit, mode, mode_of, print_when_done, random_bytes, scratch_dir,
    shutdown_signal,
};
pub use selftest::{between, client, ensure_interaction_headers, sign_in};
pub use serve::spawn_server;

/// The error type of the examples' `run` functions.
pub type BoxError = Box<dyn Error + Send + Sync + 'static>;

/// Fails with `msg` unless `cond` holds (the self-tests' assertion).
pub fn ensure(cond: bool, msg: impl Into<String>) -> Result<(), BoxError> {
    if cond { Ok(()) } else { Err(msg.into().into()) }
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
