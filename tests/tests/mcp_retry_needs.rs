//! 2026-07-28 retries beyond the one-credential case (hostile review, 2026-12-07): a tool
//! that calls `require` twice (two needs, asked one round after the other, the tool run
//! once), rmcp's `Parameters` extractor before `ToolCall` (the state still binds the
//! arguments, behind `spec_wire`, in `SpecWire`, and behind neither), a state that expires
//! while its retries wait for the browser step (none of them runs), and one user filling her
//! share of the request-state guard (another's retries go on). Real rmcp clients and server
//! on loopback (and an in-process pipe for `SpecWire`).

mod mcp_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use mcp_support::{UpstreamToken, authenticate};
use oob::mcp::rmcp::{
    Gate, Need, OobTools, SessionOwners, SpecWire, ToolCall, bind_sessions, spec_wire,
};
use oob::mcp::{MemoryStateGuard, StateKeys};
use oob::pending::AnyPending;
use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::store::MemoryStore;
use oob::vault::{MemoryVault, Vault};
use oob::{CallbackBase, Manager, Namespace, PendingId, Spec};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResponse, CallToolResult, ClientConfig, ContentBlock, ErrorData, JsonObject,
    ProtocolVersion,
};
use rmcp::model::{ClientNotification, ClientRequest, ServerResult};
use rmcp::service::{NotificationContext, Service};
use rmcp::service::{RequestContext, RoleClient, RoleServer, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use rmcp::{ClientLifecycleMode, ClientServiceExt, ServiceExt, tool, tool_handler, tool_router};
use serde_json::{Value, json};

type Tools =
    OobTools<UpstreamToken, MemoryStore<UpstreamToken>, FromVerifiedSubject, MemoryVault<String>>;

/// A second kind, asked by a second glue with keys of its own.
#[derive(Debug, Clone, oob::OobPayload)]
#[oob(kind = "other_token", route = "/oob/other/{id}")]
struct OtherToken;

type Other =
    OobTools<OtherToken, MemoryStore<OtherToken>, FromVerifiedSubject, MemoryVault<String>>;

#[derive(Clone)]
struct Probe {
    tools: Tools,
    other: Other,
    runs: Arc<AtomicUsize>,
}

async fn gate(
    tools: &Tools,
    ctx: &RequestContext<RoleServer>,
    call: &ToolCall,
    alias: Option<&'static str>,
    key: &str,
) -> Result<Result<String, CallToolResponse>, ErrorData> {
    let spec = match alias {
        Some(alias) => Spec::new(UpstreamToken).alias(alias),
        None => Spec::new(UpstreamToken),
    };
    Ok(
        match tools.require(ctx, call, Need::new(spec, key, "m")).await? {
            Gate::Ready(v) => Ok(v),
            Gate::Respond(r) => Err(r),
        },
    )
}

#[tool_router]
impl Probe {
    #[tool(description = "needs two credentials")]
    async fn two_needs(
        &self,
        ctx: RequestContext<RoleServer>,
        call: ToolCall,
    ) -> Result<CallToolResponse, ErrorData> {
        let a = match gate(&self.tools, &ctx, &call, Some("a"), "a").await? {
            Ok(v) => v,
            Err(r) => return Ok(r),
        };
        let b = match gate(&self.tools, &ctx, &call, Some("b"), "b").await? {
            Ok(v) => v,
            Err(r) => return Ok(r),
        };
        self.runs.fetch_add(1, Ordering::SeqCst);
        Ok(CallToolResult::success(vec![ContentBlock::text(format!("{a}+{b}"))]).into())
    }

    #[tool(description = "needs a credential of each of two glues")]
    async fn two_glues(
        &self,
        ctx: RequestContext<RoleServer>,
        call: ToolCall,
    ) -> Result<CallToolResponse, ErrorData> {
        let a = match gate(&self.tools, &ctx, &call, Some("a"), "a").await? {
            Ok(v) => v,
            Err(r) => return Ok(r),
        };
        let need = Need::new(Spec::new(OtherToken).alias("b"), "b", "m");
        let b: String = match self.other.require(&ctx, &call, need).await? {
            Gate::Ready(v) => v,
            Gate::Respond(r) => return Ok(r),
        };
        self.runs.fetch_add(1, Ordering::SeqCst);
        Ok(CallToolResult::success(vec![ContentBlock::text(format!("{a}+{b}"))]).into())
    }

    #[tool(description = "Parameters extractor before ToolCall")]
    async fn param_first(
        &self,
        Parameters(args): Parameters<JsonObject>,
        ctx: RequestContext<RoleServer>,
        call: ToolCall,
    ) -> Result<CallToolResponse, ErrorData> {
        let token = match gate(&self.tools, &ctx, &call, None, "upstream").await? {
            Ok(v) => v,
            Err(r) => return Ok(r),
        };
        self.runs.fetch_add(1, Ordering::SeqCst);
        let org = args.get("org").cloned().unwrap_or(Value::Null);
        Ok(
            CallToolResult::success(vec![ContentBlock::text(format!("org={org} token={token}"))])
                .into(),
        )
    }

    #[tool(description = "one credential")]
    async fn one_need(
        &self,
        ctx: RequestContext<RoleServer>,
        call: ToolCall,
    ) -> Result<CallToolResponse, ErrorData> {
        let token = match gate(&self.tools, &ctx, &call, None, "upstream").await? {
            Ok(v) => v,
            Err(r) => return Ok(r),
        };
        self.runs.fetch_add(1, Ordering::SeqCst);
        Ok(CallToolResult::success(vec![ContentBlock::text(token)]).into())
    }
}

#[tool_handler]
impl rmcp::ServerHandler for Probe {
    fn get_info(&self) -> rmcp::model::ServerConfig {
        rmcp::model::ServerConfig::new(
            rmcp::model::ServerCapabilities::builder()
                .enable_tools()
                .build(),
        )
    }
}

struct Srv {
    base: String,
    tools: Tools,
    other: Other,
    runs: Arc<AtomicUsize>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

const KEY: [u8; 32] = *b"probe-request-state-key-32-bytes";

/// How the streamable-HTTP handler is served: behind the `spec_wire` middleware or not.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wire {
    Middleware,
    Bare,
}

async fn serve(keys: StateKeys, accept_wait: Duration, guard: MemoryStateGuard) -> Srv {
    serve_on(keys, accept_wait, guard, Wire::Middleware).await
}

async fn serve_on(
    keys: StateKeys,
    accept_wait: Duration,
    guard: MemoryStateGuard,
    wire: Wire,
) -> Srv {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let manager = Manager::builder()
        .store(MemoryStore::new())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse(&base).unwrap())
        .build();
    let tools = OobTools::new(manager, MemoryVault::new(), keys)
        .accept_wait(accept_wait)
        .state_guard(guard);
    let other_manager = Manager::builder()
        .store(MemoryStore::new())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse(&base).unwrap())
        .build();
    let other = OobTools::new(
        other_manager,
        MemoryVault::new(),
        StateKeys::new(*b"other-glue-request-state-key-32b").unwrap(),
    )
    .accept_wait(accept_wait);
    let runs = Arc::new(AtomicUsize::new(0));
    let server = Probe {
        tools: tools.clone(),
        other: other.clone(),
        runs: runs.clone(),
    };
    let mcp = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default().with_sse_keep_alive(None),
    );
    let mut app = Router::new().nest_service("/mcp", mcp);
    if wire == Wire::Middleware {
        app = app.layer(axum::middleware::from_fn(spec_wire));
    }
    let app = app
        .layer(axum::middleware::from_fn_with_state(
            SessionOwners::new(),
            bind_sessions,
        ))
        .layer(axum::middleware::from_fn(authenticate));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .await;
    });
    Srv {
        base,
        tools,
        other,
        runs,
        _stop: tx,
    }
}

async fn client26(base: &str, user: &str) -> RunningService<RoleClient, ClientConfig> {
    let config: ClientConfig = serde_json::from_value(json!({"protocolVersion": "2026-07-28",
        "capabilities": {"elicitation": {"url": {}}}, "clientInfo": {"name": "probe", "version": "1"}}))
    .unwrap();
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("{base}/mcp")).auth_header(user),
    );
    config
        .serve_with_lifecycle(
            transport,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
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

fn accept(name: &str) -> Option<Value> {
    Some(json!({ name: {"action": "accept"} }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tool_with_two_needs_asks_for_each_and_runs_once() {
    let s = serve(
        StateKeys::new(KEY).unwrap(),
        Duration::from_millis(200),
        MemoryStateGuard::new(),
    )
    .await;
    let c = client26(&s.base, "alice").await;
    let call =
        |state, responses| mcp_support::call_params("two_needs", json!({}), state, responses);

    let (reqs, state) =
        mcp_support::input_requests(c.call_tool_once(call(None, None)).await.unwrap());
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].0, "a");
    complete(&s.tools, &reqs[0].1, "a", "tok_a").await;

    // The first need is met; the second is asked in the answer to the same retry.
    let r = c
        .call_tool_once(call(Some(state.clone()), accept("a")))
        .await
        .expect("the second require asks instead of rejecting the state");
    let (reqs, state_b) = mcp_support::input_requests(r);
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].0, "b");
    assert_eq!(s.runs.load(Ordering::SeqCst), 0);
    // The first state was used up by that retry.
    let replay = c.call_tool_once(call(Some(state), accept("a"))).await;
    assert!(format!("{replay:?}").contains("already used"), "{replay:?}");

    // Before the browser step, the retry with the second state is asked again for b only.
    let (reqs, state_b2) = mcp_support::input_requests(
        c.call_tool_once(call(Some(state_b.clone()), None))
            .await
            .unwrap(),
    );
    assert_eq!(reqs.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), ["b"]);
    complete(&s.tools, &reqs[0].1, "b", "tok_b").await;

    // Concurrent retries with one state: exactly one runs the tool.
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (peer, state) = (c.peer().clone(), state_b2.clone());
        tasks.push(tokio::spawn(async move {
            peer.call_tool_once(call(Some(state), accept("b"))).await
        }));
    }
    let mut ran = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(r) => {
                assert!(text(&r).contains("tok_a+tok_b"), "{}", text(&r));
                ran += 1;
            }
            Err(e) => assert!(format!("{e:?}").contains("already used"), "{e:?}"),
        }
    }
    assert_eq!(ran, 1);
    assert_eq!(s.runs.load(Ordering::SeqCst), 1);
    // The state of the round before, never used, still runs it once (both are met now).
    let r = c.call_tool_once(call(Some(state_b), None)).await.unwrap();
    assert!(text(&r).contains("tok_a+tok_b"));
    assert_eq!(s.runs.load(Ordering::SeqCst), 2);
}

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
    let config: ClientConfig = serde_json::from_value(json!({"protocolVersion": "2026-07-28",
        "capabilities": {"elicitation": {"url": {}}}, "clientInfo": {"name": "probe", "version": "1"}}))
    .unwrap();
    let client = config
        .serve_with_lifecycle(
            client_io,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_that_expires_while_its_retries_wait_runs_nothing() {
    let keys = StateKeys::new(KEY)
        .unwrap()
        .with_ttl(Duration::from_millis(1500));
    let s = serve(keys, Duration::from_secs(10), MemoryStateGuard::new()).await;
    let c = client26(&s.base, "alice").await;
    let (reqs, state) = mcp_support::input_requests(
        c.call_tool_once(mcp_support::call_params("one_need", json!({}), None, None))
            .await
            .unwrap(),
    );
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let (peer, state) = (c.peer().clone(), state.clone());
        tasks.push(tokio::spawn(async move {
            peer.call_tool_once(mcp_support::call_params(
                "one_need",
                json!({}),
                Some(state),
                accept("upstream_token"),
            ))
            .await
        }));
    }
    // Every retry opened the state before it expired and waits for the browser step.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    complete(&s.tools, &reqs[0].1, "upstream", "tok_alice").await;
    for t in tasks {
        let err = t.await.unwrap().expect_err("an expired state is refused");
        assert!(format!("{err:?}").contains("expired"), "{err:?}");
    }
    assert_eq!(s.runs.load(Ordering::SeqCst), 0);
    // The credential is there: a new call runs.
    let r = c
        .call_tool_once(mcp_support::call_params("one_need", json!({}), None, None))
        .await
        .unwrap();
    assert!(text(&r).contains("tok_alice"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_filling_her_share_of_the_guard_does_not_block_another() {
    let guard = MemoryStateGuard::with_capacity(100).with_namespace_capacity(3);
    let s = serve(
        StateKeys::new(KEY).unwrap(),
        Duration::from_millis(200),
        guard,
    )
    .await;
    let mallory = client26(&s.base, "mallory").await;
    let call = |state| mcp_support::call_params("one_need", json!({}), state, None);
    let (mut states, mut url) = (Vec::new(), String::new());
    for _ in 0..4 {
        // Every call without a state mints one, all naming the same joined pending.
        let (reqs, state) =
            mcp_support::input_requests(mallory.call_tool_once(call(None)).await.unwrap());
        url = reqs[0].1.clone();
        states.push(state);
    }
    complete(&s.tools, &url, "upstream", "tok_mallory").await;
    let last = states.pop().unwrap();
    for state in states {
        let r = mallory.call_tool_once(call(Some(state))).await.unwrap();
        assert!(text(&r).contains("tok_mallory"));
    }
    let full = mallory.call_tool_once(call(Some(last))).await;
    assert!(
        format!("{full:?}").contains("too many request states"),
        "{full:?}"
    );

    let alice = client26(&s.base, "alice").await;
    let (reqs, state) =
        mcp_support::input_requests(alice.call_tool_once(call(None)).await.unwrap());
    complete(&s.tools, &reqs[0].1, "upstream", "tok_alice").await;
    let r = alice.call_tool_once(call(Some(state))).await.unwrap();
    assert!(text(&r).contains("tok_alice"), "{}", text(&r));
}

/// Two glues of different kinds, each with keys of its own, in one tool: the retry with the
/// second glue's state is passed over by the first glue's gate (not refused as forged), and
/// settled by the second's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_glues_with_their_own_keys_in_one_tool() {
    let s = serve(
        StateKeys::new(KEY).unwrap(),
        Duration::from_millis(200),
        MemoryStateGuard::new(),
    )
    .await;
    let c = client26(&s.base, "alice").await;
    let call =
        |state, responses| mcp_support::call_params("two_glues", json!({}), state, responses);

    let (reqs, state_a) =
        mcp_support::input_requests(c.call_tool_once(call(None, None)).await.unwrap());
    assert_eq!(reqs.len(), 1);
    complete(&s.tools, &reqs[0].1, "a", "tok_a").await;
    let (reqs, state_b) = mcp_support::input_requests(
        c.call_tool_once(call(Some(state_a), accept("a")))
            .await
            .unwrap(),
    );
    assert_eq!(reqs.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), ["b"]);
    complete(&s.other, &reqs[0].1, "b", "tok_b").await;
    let r = c
        .call_tool_once(call(Some(state_b.clone()), accept("b")))
        .await
        .expect("the first glue's gate passes over the second glue's state");
    assert_eq!(text(&r), r#"[{"type":"text","text":"tok_a+tok_b"}]"#);
    assert_eq!(s.runs.load(Ordering::SeqCst), 1);
    // That state was used up by the second glue.
    let replay = c.call_tool_once(call(Some(state_b), accept("b"))).await;
    assert!(format!("{replay:?}").contains("already used"), "{replay:?}");
    // A state forged under a kind this tool's glues know is refused as before.
    let forged = "oob1.eyJrIjoidXBzdHJlYW1fdG9rZW4ifQ.AAAA".to_owned();
    let r = c.call_tool_once(call(Some(forged), None)).await;
    assert!(format!("{r:?}").contains("requestState rejected"), "{r:?}");
}
