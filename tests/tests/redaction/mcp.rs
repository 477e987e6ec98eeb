//! The MCP glue and the protocol values made from a canary pending.

use std::time::SystemTime;

use oob::vault::{MemoryVault, Vault};

use crate::leaks::Leaks;
use crate::{NS, SECRET, canary_ns, manager, spec, subject};
/// The MCP glue: `Need`, `Gate`, `ToolCall`, `Binding`, `OpenedState`, `StateKeys`,
/// `OobTools` and `Resume`, and the protocol values made from a canary pending (their
/// message is the service's own text, sent to the client: a neutral one here).
#[tokio::test]
async fn mcp_types_print_neither_secret_nor_namespace() {
    use oob::mcp::rmcp::{Gate, Need, OobTools, ToolCall};
    use oob::mcp::{
        Binding, ElicitationComplete, ElicitationModes, InputRequired, StateKeys, UrlElicitation,
        UrlElicitationRequired, resume,
    };
    use rmcp::model::{CallToolResult, ContentBlock};
    use serde_json::json;

    let mut leaks = Leaks::default();
    let m = manager();
    let cx = subject();
    let ns = canary_ns();

    leaks.debug(
        "Need",
        &Need::new(spec(), "github", format!("{SECRET} for {NS}")),
    );
    leaks.debug("Gate::Ready", &Gate::Ready(SECRET.to_owned()));
    leaks.debug(
        "Gate::Respond",
        &Gate::<String>::Respond(CallToolResult::success(vec![ContentBlock::text(SECRET)]).into()),
    );

    let key = format!("{SECRET}-request-state-key-material-0123456789");
    let keys = StateKeys::new(key.clone().into_bytes())
        .expect("key")
        .with_previous_key(format!("{key}-old").into_bytes())
        .expect("key");
    leaks.debug("StateKeys", &keys);
    let arguments = json!({"token": SECRET, "user": NS});
    let params = json!({"name": "list_repos", "arguments": arguments});
    let binding = Binding::new(&ns, "tools/call", &params);
    leaks.debug("Binding", &binding);
    // Nor the params' digest: unkeyed, so low-entropy arguments could be guessed back.
    let shown = format!("{binding:?}");
    assert!(!shown.contains("digest"), "{shown}");

    let done = m.create(&cx, spec()).await.expect("create");
    let still_open = m.create(&cx, spec()).await.expect("create");
    let (done_id, open_id) = (done.id(), still_open.id());
    let completed = m.complete(done).await.expect("complete");
    leaks.debug("ElicitationComplete", &ElicitationComplete::new(&completed));
    let now = SystemTime::now();
    let state = keys.seal(&binding, &[done_id], now);
    let opened = keys.open(&state, &binding, now).expect("open");
    leaks.debug("OpenedState", &opened);
    let call = ToolCall::new(
        "list_repos",
        arguments.as_object().cloned().expect("object"),
        Some(format!("{state}{SECRET}")),
    );
    leaks.debug("ToolCall", &call);

    leaks.debug(
        "Resume::Proceed",
        &resume(&m, &opened, &ns).await.expect("resume"),
    );
    let both = keys.seal(&binding, &[done_id, open_id], now);
    let opened = keys.open(&both, &binding, now).expect("open");
    leaks.debug(
        "Resume::StillOpen",
        &resume(&m, &opened, &ns).await.expect("resume"),
    );

    let modes = ElicitationModes::new(false, true);
    let message = "Sign in to the upstream service.";
    let elicitation = UrlElicitation::new(&still_open, message, modes).expect("url mode");
    leaks.debug("UrlElicitation", &elicitation);
    leaks.debug(
        "UrlElicitationRequired",
        &UrlElicitationRequired::new(elicitation),
    );
    let asked = InputRequired::for_pendings(
        &keys,
        &binding,
        modes,
        now,
        [("upstream".to_owned(), &still_open, message.to_owned())],
    )
    .expect("input_required");
    leaks.debug("InputRequired", &asked);

    let vault = MemoryVault::<String>::new();
    vault
        .put(&m.caller(&cx).expect("caller"), "github", SECRET.to_owned())
        .await
        .expect("put");
    let tools = OobTools::new(m.clone(), vault, keys);
    leaks.debug("OobTools", &tools);
    leaks.assert_none(20);
}
