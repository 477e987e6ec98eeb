//! Glue for the official MCP Rust SDK, `rmcp` (feature `rmcp`): a tool handler requires a
//! credential in a few lines, for clients of both protocol revisions.
//!
//! [`OobTools::require`] resolves the caller's namespace from the request context; when the
//! vault holds the credential under that namespace it returns it, otherwise it creates (or
//! joins) the pending and asks the user:
//! - **2025-11-25**, client declared URL mode: an in-call URL-mode `elicitation/create`
//!   (through rmcp's peer) whose `elicitationId` is the pending id. `decline` or `cancel`
//!   end the pending and answer a tool result saying so; `accept` (the user agreed to open
//!   the URL) waits up to [`accept_wait`](OobTools::accept_wait) for the browser step and
//!   then runs the tool. If the step is not done by then, or the client cannot take the
//!   request, it answers the `-32042` URL-elicitation error instead, and one task per pending
//!   and session (ending with either) sends `notifications/elicitation/complete` once. A
//!   retry in the same session after `accept` waits again instead of asking again.
//!   [`UrlAsk::Error`] uses the `-32042` error only.
//! - **2026-07-28**, client declared URL mode: `input_required` with a sealed
//!   `requestState`. On the retry it verifies the state (caller, method, params, expiry) and
//!   reads `inputResponses`: `decline`/`cancel` end the pending with a tool result saying
//!   so; `accept` while the pending is open waits up to `accept_wait` for the outcome before
//!   asking again. Declined, cancelled or expired pendings give a tool result; a completed
//!   one returns the credential and consumes the state in the
//!   [`StateGuard`](crate::mcp::StateGuard) (single use, once per call however many
//!   credentials the tool requires; a state that expired meanwhile is refused; see
//!   [`OobTools::state_guard`] for several replicas; with several replicas, a retry that
//!   reaches one while another is still persisting the credential finds it missing and
//!   answers a tool error asking to call the tool again, which then finds it: the wait for
//!   a persist step covers this process's completions only). A tool that requires several
//!   credentials passes the same [`ToolCall`] to each gate: each one missing from the vault
//!   is asked in a round of its own.
//! - A client that did not declare URL mode never receives a URL: the missing-capability
//!   error (`-32021`, 2026-07-28) or a tool result (2025-11-25).
//!
//! Put [`spec_wire`] on the streamable-HTTP endpoint (or serve the handler through
//! [`SpecWire`] on stdio) so that 2026-07-28 clients receive `input_required` exactly as the
//! revision defines it, and guard streamable-HTTP sessions with [`bind_sessions`]. Failures
//! of the store or vault are logged with `tracing` (target `oob`) and reach the client as a
//! generic internal error.
//!
//! ```no_run
//! # use oob::mcp::rmcp::{Gate, Need, OobTools, ToolCall};
//! # use ::rmcp::model::{CallToolResponse, CallToolResult, ContentBlock, ErrorData};
//! # use ::rmcp::service::{RequestContext, RoleServer};
//! # use ::rmcp::{tool, tool_router};
//! # #[derive(Clone, oob::OobPayload)]
//! # #[oob(kind = "token", route = "/oob/token/{id}")]
//! # struct Token;
//! # type Tools = OobTools<Token, oob::store::MemoryStore<Token>, oob::provider::FromVerifiedSubject, oob::vault::MemoryVault<String>>;
//! #[derive(Clone)]
//! struct Repos {
//!     oob: Tools,
//! }
//!
//! #[tool_router(server_handler)]
//! impl Repos {
//!     #[tool(description = "List the caller's repositories")]
//!     async fn list_repos(
//!         &self,
//!         ctx: RequestContext<RoleServer>,
//!         call: ToolCall,
//!     ) -> Result<CallToolResponse, ErrorData> {
//!         let need = Need::new(oob::Spec::new(Token), "upstream", "Sign in to the upstream service.");
//!         let token: String = match self.oob.require(&ctx, &call, need).await? {
//!             Gate::Ready(token) => token,
//!             Gate::Respond(response) => return Ok(response),
//!         };
//!         Ok(CallToolResult::success(vec![ContentBlock::text(format!("{} bytes", token.len()))]).into())
//!     }
//! }
//! ```

mod body;
mod call;
mod elicit;
mod notify;
#[cfg(feature = "oauth")]
mod oauth;
mod respond;
mod retry;
mod session;
#[cfg(feature = "oauth")]
mod settings;
mod tools;
mod wire;
mod wire_calls;

use ::rmcp::service::{RequestContext, RoleServer};

pub use call::{Gate, Need, ToolCall};
#[cfg(feature = "oauth")]
pub use oauth::OAuthTools;
pub use respond::{
    completion_notification, missing_capability, modes_of, to_input_required_result,
    url_elicitation_required,
};
pub use session::{SESSION_HEADER, SessionOwners, SessionRefused, bind_sessions};
#[cfg(feature = "oauth")]
pub use settings::ToolSettings;
pub use tools::{OobTools, UrlAsk};
pub use wire::{SpecWire, input_required_value, spec_wire};

use crate::provider::{SubjectSource, VerifiedSubject};

/// The JSON-RPC method a tool call's `requestState` is bound to.
pub const TOOLS_CALL: &str = "tools/call";

/// The tool result text when the user declined.
pub const DECLINED: &str =
    "The user declined to provide the requested input. The tool did not run; do not retry.";
/// The tool result text when the user cancelled.
pub const CANCELLED: &str =
    "The user cancelled the request for input. The tool did not run; do not retry.";

/// The verified subject of an rmcp request: a [`VerifiedSubject`] that upstream
/// authentication put in the HTTP request's extensions (read through the
/// `http::request::Parts` rmcp's HTTP transport stores in the context), or directly in the
/// context's extensions. Never read from anything the client sends in MCP messages.
impl SubjectSource for RequestContext<RoleServer> {
    fn verified_subject(&self) -> Option<&VerifiedSubject> {
        self.extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<VerifiedSubject>())
            .or_else(|| self.extensions.get::<VerifiedSubject>())
    }
}

/// The bearer token of the HTTP request behind an rmcp request (`Authorization: Bearer`).
#[cfg(feature = "bearer-hash")]
impl crate::provider::BearerSource for RequestContext<RoleServer> {
    fn bearer_token(&self) -> Option<&str> {
        let parts = self.extensions.get::<http::request::Parts>()?;
        let value = parts
            .headers
            .get(http::header::AUTHORIZATION)?
            .to_str()
            .ok()?;
        let (scheme, token) = value.split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then_some(token.trim())
    }
}
