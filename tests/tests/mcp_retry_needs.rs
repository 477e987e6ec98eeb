//! 2026-07-28 retries beyond the one-credential case (hostile review, 2026-12-07): a tool
//! that calls `require` twice (two needs, asked one round after the other, the tool run
//! once), rmcp's `Parameters` extractor before `ToolCall` (the state still binds the
//! arguments, behind `spec_wire`, in `SpecWire`, and behind neither), a state that expires
//! while its retries wait for the browser step (none of them runs), and one user filling her
//! share of the request-state guard (another's retries go on). Real rmcp clients and server
//! on loopback (and an in-process pipe for `SpecWire`).
//!
//! The server (a tool per case, two glues) is in `server`; the cases are in `two_needs` (two
//! needs or two glues in one tool), `parameters` (what the state binds when `Parameters` takes
//! the arguments first) and `state_limits` (a state's expiry and a user's share of the guard).

mod mcp_support;

#[path = "mcp_retry_needs/server.rs"]
mod server;

#[path = "mcp_retry_needs/two_needs.rs"]
mod two_needs;

#[path = "mcp_retry_needs/parameters.rs"]
mod parameters;

#[path = "mcp_retry_needs/state_limits.rs"]
mod state_limits;

use mcp_support::client::{config, lifecycle, transport, url_mode};
use oob::mcp::rmcp::OobTools;
use oob::provider::FromVerifiedSubject;
use oob::store::MemoryStore;
use oob::vault::{MemoryVault, Vault};
use oob::{AnyPending, PendingId};
use rmcp::ClientServiceExt;
use rmcp::model::{CallToolResponse, ClientConfig, ProtocolVersion};
use rmcp::service::{RoleClient, RunningService};
use serde_json::{Value, json};

/// A 2026-07-28 client of `user` declaring URL mode (its user would decline an elicitation in
/// a call; none is asked on this revision).
async fn client26(base: &str, user: &str) -> RunningService<RoleClient, ClientConfig> {
    let version = ProtocolVersion::V_2026_07_28;
    config(&version, url_mode())
        .serve_with_lifecycle(transport(base, user), lifecycle(&version))
        .await
        .unwrap()
}

/// The browser step: completes the pending at `url`, storing `value` under `key`.
async fn complete<T: oob::OobPayload + Clone + Send + Sync + 'static>(
    tools: &OobTools<T, MemoryStore<T>, FromVerifiedSubject, MemoryVault<String>>,
    url: &str,
    key: &'static str,
    value: &str,
) {
    let id: PendingId = url.rsplit('/').next().unwrap().parse().unwrap();
    let AnyPending::Open(open) = tools.manager().get(id).await.unwrap() else {
        panic!("not open")
    };
    let vault = tools.vault().clone();
    let value = value.to_owned();
    tools
        .manager()
        .complete_with(open, async move |token| vault.put(&token, key, value).await)
        .await
        .unwrap();
}

/// The text of a complete (non-error) result.
fn text(r: &CallToolResponse) -> String {
    match r {
        CallToolResponse::Complete(r) if r.is_error != Some(true) => {
            serde_json::to_string(&r.content).unwrap()
        }
        other => panic!("expected a successful result, got {other:?}"),
    }
}

/// The input responses that accept the input request `name`.
fn accept(name: &str) -> Option<Value> {
    Some(json!({ name: {"action": "accept"} }))
}
