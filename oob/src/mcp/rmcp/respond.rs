//! What a tool call answers besides the credential: tool results, the JSON-RPC errors as
//! rmcp values, and how failures are logged.

use ::rmcp::model::{
    CallToolResult, ClientCapabilities, ContentBlock, CustomNotification, ErrorCode, ErrorData,
    InputRequiredResult, ServerNotification,
};
use ::rmcp::service::{RequestContext, RoleServer};
use serde_json::Value;

use super::{CANCELLED, DECLINED, Gate};
use crate::manager::Outcome;
use crate::mcp::{
    ElicitationComplete, ElicitationModes, GuardError, InputRequired, McpError, ModeError,
    ResumeFailure, Revision, UrlElicitationRequired,
};
use crate::pending::Pending;
use crate::store::Finished;

pub(super) fn outcome_finish<T>(outcome: &Outcome<T>) -> Option<Finished> {
    match outcome {
        Outcome::Declined(_) => Some(Finished::Declined),
        Outcome::Cancelled(_) => Some(Finished::Cancelled),
        Outcome::Expired(_) => Some(Finished::Expired),
        _ => None,
    }
}

/// The tool result for a pending that finished without completing.
pub(super) fn finished_result<V>(how: Option<Finished>) -> Gate<V> {
    match how {
        Some(Finished::Declined) => tool_error(DECLINED),
        Some(Finished::Cancelled) => tool_error(CANCELLED),
        Some(Finished::Expired) => {
            tool_error("the request for input expired before it was completed; call the tool again")
        }
        _ => tool_error("the request for input no longer exists; call the tool again"),
    }
}

pub(super) fn failure_result<V>(failure: &ResumeFailure) -> Gate<V> {
    match failure.how() {
        how @ Some(Finished::Declined | Finished::Cancelled) => finished_result(how),
        _ => tool_error(&failure.to_string()),
    }
}

/// The `notifications/elicitation/complete` notification of a completed pending, as an
/// rmcp server notification.
#[must_use]
pub fn completion_notification<T>(
    done: &Pending<T, crate::state::Completed>,
) -> ServerNotification {
    let n = ElicitationComplete::new(done);
    ServerNotification::CustomNotification(CustomNotification::new(
        n.method(),
        Some(n.to_params_value()),
    ))
}

/// The `-32042` error as an rmcp [`ErrorData`] (rmcp 3 has no type for it any more).
#[must_use]
pub fn url_elicitation_required(error: &UrlElicitationRequired) -> ErrorData {
    let code = i32::try_from(error.code()).unwrap_or(i32::MIN);
    ErrorData::new(
        ErrorCode(code),
        error.message().to_owned(),
        Some(error.to_data_value()),
    )
}

/// The `-32021` missing-capability error for URL-mode elicitation, built by rmcp:
/// `data.requiredCapabilities` is `{"elicitation":{"url":{}}}`.
#[must_use]
pub fn missing_capability() -> ErrorData {
    let required: ClientCapabilities =
        serde_json::from_value(serde_json::json!({"elicitation": {"url": {}}})).unwrap_or_default();
    ErrorData::missing_required_client_capability(required)
}

/// An [`InputRequired`] as rmcp's [`InputRequiredResult`]. Its serde form carries the
/// `elicitationId` revision 2026-07-28 removed; [`SpecWire`](super::SpecWire) writes it without.
pub fn to_input_required_result(result: &InputRequired) -> Result<InputRequiredResult, ErrorData> {
    serde_json::from_value(result.to_result_value()).map_err(internal)
}

/// The protocol revision the client of `ctx` speaks, if oob knows it.
pub(super) fn revision_of(ctx: &RequestContext<RoleServer>) -> Option<Revision> {
    ctx.protocol_version()
        .and_then(|v| Revision::of_version(v.as_str()))
}

/// The elicitation modes the client of `ctx` declared (per request for 2026-07-28, at
/// `initialize` before).
#[must_use]
pub fn modes_of(ctx: &RequestContext<RoleServer>) -> ElicitationModes {
    ctx.client_capabilities()
        .and_then(|c| serde_json::to_value(c).ok())
        .map_or(ElicitationModes::NONE, |c: Value| {
            ElicitationModes::from_capabilities(&c)
        })
}

pub(super) fn tool_error<V>(message: &str) -> Gate<V> {
    Gate::Respond(CallToolResult::error(vec![ContentBlock::text(message)]).into())
}

pub(super) fn policy(e: McpError) -> ErrorData {
    match e {
        McpError::Mode(ModeError::UrlNotDeclared { .. }) => missing_capability(),
        e => internal(e),
    }
}

/// A replay is rejected like any other invalid `requestState` (`-32602`); a full guard is a
/// refusal the client may retry later; a backend failure is internal.
pub(super) fn guard_error(e: GuardError) -> ErrorData {
    match e {
        GuardError::Replayed => {
            ErrorData::invalid_params(format!("requestState rejected: {e}"), None)
        }
        GuardError::Full { .. } => {
            tracing::warn!(target: "oob", error = %e, "the requestState guard is full");
            ErrorData::invalid_request(
                "too many request states in use; call the tool again later",
                None,
            )
        }
        e => internal(e),
    }
}

/// A failure of the service (store, vault, guard, a value that did not serialize): logged
/// here with its source chain, and never sent in detail.
pub(super) fn internal(e: impl std::error::Error) -> ErrorData {
    let mut chain = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    tracing::error!(target: "oob", error = %chain, "an MCP tool call failed inside oob");
    ErrorData::internal_error("internal error", None)
}
