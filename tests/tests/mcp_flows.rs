//! The rmcp glue against real rmcp clients of both revisions, over 127.0.0.1: tools are
//! listed; the user's decline and cancel reach the server on both revisions; accept waits for
//! the browser step instead of asking again; the 2026-07-28 wire has no `elicitationId`;
//! one completion notifier per pending and session; failures are logged, not sent; sessions
//! belong to their user. Each test fails on the behaviour issue 15 describes.
//!
//! The server is `mcp_support`'s, the client `mcp_support::client`'s. Here: tools are listed;
//! in `revision_2026` and `revision_2025`, each revision's answers to accept, decline and
//! cancel; in `wire`, the 2026-07-28 wire over HTTP and stdio; in `failures`, a failure that
//! stays on the server; in `users`, sessions and vaults that belong to their user.

mod mcp_support;

#[path = "mcp_flows/revision_2026.rs"]
mod revision_2026;

#[path = "mcp_flows/revision_2025.rs"]
mod revision_2025;

#[path = "mcp_flows/wire.rs"]
mod wire;

#[path = "mcp_flows/failures.rs"]
mod failures;

#[path = "mcp_flows/users.rs"]
mod users;

use mcp_support::client::connect;
use mcp_support::{Options, start};
use rmcp::model::{ElicitationAction, ProtocolVersion};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_are_listed() {
    let h = start(Options::default()).await;
    for version in [ProtocolVersion::V_2025_11_25, ProtocolVersion::V_2026_07_28] {
        let c = connect(&h, "alice", version, ElicitationAction::Accept).await;
        let tools = c.client.list_all_tools().await.unwrap();
        let names: Vec<_> = tools.iter().map(|t| t.name.to_string()).collect();
        assert_eq!(names, ["list_repos"]);
        assert!(
            tools[0]
                .description
                .as_deref()
                .unwrap()
                .contains("repositories")
        );
        c.client.cancel().await.unwrap();
    }
}
