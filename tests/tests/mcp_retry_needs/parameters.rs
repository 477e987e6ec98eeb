//! rmcp's `Parameters` extractor before `ToolCall`: the state still binds the arguments
//! behind `spec_wire` and in `SpecWire`, and behind neither no state is sealed.

use std::sync::atomic::Ordering;
use std::time::Duration;

use oob::Namespace;
use oob::mcp::rmcp::SpecWire;
use oob::mcp::{MemoryStateGuard, StateKeys};
use oob::provider::VerifiedSubject;
use rmcp::model::{
    ClientConfig, ClientNotification, ClientRequest, ErrorData, ProtocolVersion, ServerResult,
};
use rmcp::service::{
    NotificationContext, RequestContext, RoleClient, RoleServer, RunningService, Service,
};
use rmcp::{ClientServiceExt, ServiceExt};
use serde_json::json;

use crate::mcp_support;
use crate::mcp_support::client::{config, lifecycle, url_mode};
use crate::server::{KEY, Probe, Srv, Wire, serve, serve_on};
use crate::{accept, client26, complete, text};

/// The handler wrapped in `SpecWire`, served on an in-process pipe (as on stdio), every
/// request from `user` (what a stdio server's fixed identity would give).
async fn over_spec_wire_service(user: &str) -> (Srv, RunningService<RoleClient, ClientConfig>) {
    let srv = serve(
        StateKeys::new(KEY).unwrap(),
        Duration::from_millis(200),
        MemoryStateGuard::new(),
    )
    .await;
    let server = Probe {
        tools: srv.tools.clone(),
        other: srv.other.clone(),
        runs: srv.runs.clone(),
    };
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let as_user = AsUser(SpecWire::new(server), Namespace::new(user).unwrap());
    tokio::spawn(async move {
        if let Ok(running) = as_user.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    let version = ProtocolVersion::V_2026_07_28;
    let client = config(&version, url_mode())
        .serve_with_lifecycle(client_io, lifecycle(&version))
        .await
        .unwrap();
    (srv, client)
}

/// A service whose every request comes from one verified user.
struct AsUser<H>(H, Namespace);

impl<H: Service<RoleServer>> Service<RoleServer> for AsUser<H> {
    async fn handle_request(
        &self,
        request: ClientRequest,
        mut context: RequestContext<RoleServer>,
    ) -> Result<ServerResult, ErrorData> {
        context
            .extensions
            .insert(VerifiedSubject::new(self.1.clone()));
        self.0.handle_request(request, context).await
    }

    async fn handle_notification(
        &self,
        notification: ClientNotification,
        context: NotificationContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.0.handle_notification(notification, context).await
    }

    fn get_info(&self) -> rmcp::model::ServerConfig {
        self.0.get_info()
    }

    fn supported_protocol_versions(&self) -> std::borrow::Cow<'static, [ProtocolVersion]> {
        self.0.supported_protocol_versions()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_before_tool_call_still_binds_the_arguments() {
    for wire in [Wire::Middleware, Wire::Bare] {
        // Bare here stands for SpecWire, which needs no middleware.
        let (s, c) = if wire == Wire::Bare {
            over_spec_wire_service("alice").await
        } else {
            let s = serve(
                StateKeys::new(KEY).unwrap(),
                Duration::from_millis(200),
                MemoryStateGuard::new(),
            )
            .await;
            let c = client26(&s.base, "alice").await;
            (s, c)
        };
        let (reqs, state) = mcp_support::input_requests(
            c.call_tool_once(mcp_support::call_params(
                "param_first",
                json!({"org": "acme"}),
                None,
                None,
            ))
            .await
            .unwrap(),
        );
        complete(&s.tools, &reqs[0].1, "upstream", "tok_alice").await;
        let evil = c
            .call_tool_once(mcp_support::call_params(
                "param_first",
                json!({"org": "evil"}),
                Some(state.clone()),
                accept("upstream_token"),
            ))
            .await;
        let err = evil.expect_err("a state for other arguments is refused");
        assert!(format!("{err:?}").contains("other parameters"), "{err:?}");
        assert_eq!(s.runs.load(Ordering::SeqCst), 0);
        let r = c
            .call_tool_once(mcp_support::call_params(
                "param_first",
                json!({"org": "acme"}),
                Some(state),
                accept("upstream_token"),
            ))
            .await
            .unwrap();
        assert!(text(&r).contains("org=\\\"acme\\\""), "{}", text(&r));
        assert_eq!(s.runs.load(Ordering::SeqCst), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_wire_a_tool_call_that_cannot_see_its_arguments_seals_nothing() {
    let s = serve_on(
        StateKeys::new(KEY).unwrap(),
        Duration::from_millis(200),
        MemoryStateGuard::new(),
        Wire::Bare,
    )
    .await;
    let c = client26(&s.base, "alice").await;
    // Parameters took the arguments before ToolCall: no state is sealed to the wrong ones.
    let err = c
        .call_tool_once(mcp_support::call_params(
            "param_first",
            json!({"org": "acme"}),
            None,
            None,
        ))
        .await
        .expect_err("no state is sealed without the arguments");
    assert!(format!("{err:?}").contains("cannot bind"), "{err:?}");
    // ToolCall alone still sees them.
    let (reqs, state) = mcp_support::input_requests(
        c.call_tool_once(mcp_support::call_params(
            "one_need",
            json!({"org": "acme"}),
            None,
            None,
        ))
        .await
        .unwrap(),
    );
    complete(&s.tools, &reqs[0].1, "upstream", "tok_alice").await;
    let err = c
        .call_tool_once(mcp_support::call_params(
            "one_need",
            json!({"org": "evil"}),
            Some(state.clone()),
            None,
        ))
        .await
        .expect_err("other arguments");
    assert!(format!("{err:?}").contains("other parameters"), "{err:?}");
    let r = c
        .call_tool_once(mcp_support::call_params(
            "one_need",
            json!({"org": "acme"}),
            Some(state),
            None,
        ))
        .await
        .unwrap();
    assert!(text(&r).contains("tok_alice"));
}
