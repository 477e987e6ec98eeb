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
//!   one returns the credential and consumes the state in the [`StateGuard`] (single use;
//!   see [`OobTools::state_guard`] for several replicas).
//! - A client that did not declare URL mode never receives a URL: the missing-capability
//!   error (`-32021`, 2026-07-28) or a tool result (2025-11-25).
//!
//! Put [`spec_wire`] on the streamable-HTTP endpoint (or serve the handler through
//! [`SpecWire`] on stdio) so that 2026-07-28 clients receive `input_required` exactly as the
//! revision defines it, and guard streamable-HTTP sessions with [`bind_sessions`]. Failures of the store or vault are logged with `tracing` (target
//! `oob`) and reach the client as a generic internal error.
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

mod call;
mod notify;
#[cfg(feature = "oauth")]
mod oauth;
mod session;
mod wire;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ::rmcp::model::{
    CallToolResponse, CallToolResult, ClientCapabilities, ContentBlock, CustomNotification,
    ElicitRequestParams, ElicitationAction, ErrorCode, ErrorData, InputRequiredResult,
    ServerNotification,
};
use ::rmcp::service::{RequestContext, RoleServer};
use serde_json::Value;

pub use call::{Gate, Need, ToolCall};
#[cfg(feature = "oauth")]
pub use oauth::OAuthTools;
pub use session::{SESSION_HEADER, SessionOwners, SessionRefused, bind_sessions};
pub use wire::{SpecWire, input_required_value, spec_wire};

use super::guard::DynStateGuard;
use super::{
    Binding, ElicitationComplete, ElicitationModes, GuardError, InputRequired, McpError,
    MemoryStateGuard, ModeError, OpenedState, Resume, ResumeFailure, Revision, StateGuard,
    StateKeys, UrlElicitation, UrlElicitationRequired, resume,
};
use crate::capability::NamespaceToken;
use crate::error::Error;
use crate::id::PendingId;
use crate::manager::{Joined, Manager, Outcome};
use crate::namespace::Namespace;
use crate::payload::OobPayload;
use crate::pending::Pending;
use crate::provider::{NamespaceProvider, SubjectSource, VerifiedSubject};
use crate::spec::Spec;
use crate::state::Open;
use crate::store::{Finished, Store};
use crate::vault::Vault;
use notify::Sessions;

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

/// How a 2025-11-25 client that declared URL mode is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UrlAsk {
    /// An in-call `elicitation/create` request, whose answer is handled (the default); the
    /// `-32042` error when the client cannot take it or the browser step outlasts
    /// [`OobTools::accept_wait`].
    #[default]
    Request,
    /// The `-32042` error only (for transports that cannot carry server-to-client requests
    /// during a call).
    Error,
}

/// Manager, vault, request-state keys and request-state guard for rmcp tool handlers. Cheap
/// to clone (clones share the guard and the per-session notifier table).
pub struct OobTools<T, S, P, V> {
    manager: Manager<T, S, P>,
    vault: V,
    keys: Arc<StateKeys>,
    guard: Arc<dyn DynStateGuard>,
    sessions: Sessions,
    notify_within: Duration,
    accept_wait: Duration,
    ask_within: Duration,
    url_ask: UrlAsk,
}

impl<T, S, P, V: Clone> Clone for OobTools<T, S, P, V> {
    fn clone(&self) -> Self {
        Self {
            manager: self.manager.clone(),
            vault: self.vault.clone(),
            keys: self.keys.clone(),
            guard: self.guard.clone(),
            sessions: self.sessions.clone(),
            notify_within: self.notify_within,
            accept_wait: self.accept_wait,
            ask_within: self.ask_within,
            url_ask: self.url_ask,
        }
    }
}

impl<T, S, P, V> std::fmt::Debug for OobTools<T, S, P, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OobTools")
            .field("manager", &self.manager)
            .field("keys", &self.keys)
            .field("accept_wait", &self.accept_wait)
            .field("url_ask", &self.url_ask)
            .finish_non_exhaustive()
    }
}

impl<T, S, P, V> OobTools<T, S, P, V>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    S: Store<T>,
    P: NamespaceProvider<RequestContext<RoleServer>>,
{
    /// How long a completion notifier waits for its pending, unless
    /// [`notify_within`](Self::notify_within) says otherwise: 15 minutes (it also ends with
    /// the pending and with the session).
    pub const DEFAULT_NOTIFY_WITHIN: Duration = Duration::from_secs(900);
    /// How long a call answered `accept` waits for the browser step, unless
    /// [`accept_wait`](Self::accept_wait) says otherwise: 20 seconds, well under the 60 s
    /// request timeout of the official client SDKs.
    pub const DEFAULT_ACCEPT_WAIT: Duration = Duration::from_secs(20);
    /// How long an in-call `elicitation/create` waits for the client's answer, unless
    /// [`ask_within`](Self::ask_within) says otherwise: 30 seconds.
    pub const DEFAULT_ASK_WITHIN: Duration = Duration::from_secs(30);

    /// Glue for `manager`, reading credentials from `vault`, sealing with `keys`, enforcing
    /// single use of `requestState`s with a [`MemoryStateGuard`] (one process; see
    /// [`state_guard`](Self::state_guard)).
    #[must_use]
    pub fn new(manager: Manager<T, S, P>, vault: V, keys: StateKeys) -> Self {
        Self {
            manager,
            vault,
            keys: Arc::new(keys),
            guard: Arc::new(MemoryStateGuard::new()),
            sessions: Sessions::default(),
            notify_within: Self::DEFAULT_NOTIFY_WITHIN,
            accept_wait: Self::DEFAULT_ACCEPT_WAIT,
            ask_within: Self::DEFAULT_ASK_WITHIN,
            url_ask: UrlAsk::default(),
        }
    }

    /// Enforces single use of `requestState`s with `guard` instead of the default
    /// in-process [`MemoryStateGuard`]. With several replicas, the guard must be shared
    /// between them (`RedisStateGuard` with feature `redis`, or your own over Redis
    /// `SET key 1 NX PXAT <expiry>`): a state consumed on one replica can otherwise be
    /// replayed on another until it expires.
    #[must_use]
    pub fn state_guard(mut self, guard: impl StateGuard) -> Self {
        self.guard = Arc::new(guard);
        self
    }

    /// How long a completion notifier waits for its pending (2025-11-25).
    #[must_use]
    pub fn notify_within(mut self, within: Duration) -> Self {
        self.notify_within = within;
        self
    }

    /// How long a call whose client answered `accept` waits for the outcome of the browser
    /// step before asking again (2026-07-28) or answering `-32042` (2025-11-25). Keep it
    /// well under the client's request timeout.
    #[must_use]
    pub fn accept_wait(mut self, wait: Duration) -> Self {
        self.accept_wait = wait;
        self
    }

    /// How long an in-call `elicitation/create` (2025-11-25) waits for the client's answer.
    #[must_use]
    pub fn ask_within(mut self, within: Duration) -> Self {
        self.ask_within = within;
        self
    }

    /// How 2025-11-25 clients are asked (default [`UrlAsk::Request`]).
    #[must_use]
    pub fn url_ask(mut self, ask: UrlAsk) -> Self {
        self.url_ask = ask;
        self
    }

    /// The manager.
    #[must_use]
    pub fn manager(&self) -> &Manager<T, S, P> {
        &self.manager
    }

    /// The vault.
    #[must_use]
    pub fn vault(&self) -> &V {
        &self.vault
    }

    /// The request-state keys.
    #[must_use]
    pub fn keys(&self) -> &StateKeys {
        &self.keys
    }

    /// How many completion notifiers are running (one at most per pending and session).
    #[must_use]
    pub fn notifiers(&self) -> usize {
        self.sessions.notifiers()
    }

    /// Requires the credential `need` describes for the caller of `ctx`; see the
    /// [module](self) for what it answers to each kind of client. `Err` is a JSON-RPC error
    /// for the whole request (`-32042`, `-32021`, a rejected `requestState`, or a failure of
    /// the store or vault, logged and not sent in detail).
    pub async fn require<Val>(
        &self,
        ctx: &RequestContext<RoleServer>,
        call: &ToolCall,
        need: Need<T>,
    ) -> Result<Gate<Val>, ErrorData>
    where
        V: Vault<Val>,
    {
        // The caller's own capability: it reads this user's credentials and nobody else's.
        let caller = self.manager.caller(ctx).map_err(|e| {
            tracing::debug!(target: "oob", error = %e, "an MCP caller could not be identified");
            ErrorData::invalid_request("the caller could not be identified", None)
        })?;
        let revision = revision_of(ctx);

        if let Some(state) = call.request_state() {
            return self
                .retry(ctx, &caller, call, &need.key, &need.message, state)
                .await;
        }
        if let Some(value) = self.load(&caller, &need.key).await? {
            return Ok(Gate::Ready(value));
        }
        let modes = modes_of(ctx);
        match revision {
            None => Ok(tool_error(
                "this tool needs URL-mode elicitation (MCP 2025-11-25 or later), which this client does not support",
            )),
            Some(Revision::UrlElicitation) => {
                if !modes.url() {
                    return Ok(tool_error(
                        "this tool needs URL-mode elicitation, which this client did not declare",
                    ));
                }
                let Some(open) = self.open_pending(ctx, need.spec).await? else {
                    return Ok(tool_error(DECLINED));
                };
                self.elicit(ctx, &caller, open, modes, &need.message, &need.key)
                    .await
            }
            Some(_) => {
                if !modes.url() {
                    return Err(missing_capability());
                }
                let Some(open) = self.open_pending(ctx, need.spec).await? else {
                    return Ok(tool_error(DECLINED));
                };
                self.ask(call, caller.namespace(), modes, &[open], &need.message)
            }
        }
    }

    /// 2025-11-25: asks in the call when it can, handles the answer, and falls back to the
    /// `-32042` error with one completion notifier for this pending and session.
    async fn elicit<Val>(
        &self,
        ctx: &RequestContext<RoleServer>,
        caller: &NamespaceToken<'_>,
        open: Pending<T, Open>,
        modes: ElicitationModes,
        message: &str,
        key: &str,
    ) -> Result<Gate<Val>, ErrorData>
    where
        V: Vault<Val>,
    {
        let elicitation = UrlElicitation::new(&open, message, modes).map_err(policy)?;
        let id = open.id();
        let session = notify::session_of(ctx);
        let mut accepted = self.sessions.accepted(&session, id);
        if self.url_ask == UrlAsk::Request && !accepted {
            let params = ElicitRequestParams::UrlElicitationParams {
                meta: None,
                message: elicitation.message().to_owned(),
                url: elicitation.url().to_owned(),
                elicitation_id: elicitation.elicitation_id().to_owned(),
            };
            match ctx
                .peer
                .create_elicitation_with_timeout(params, Some(self.ask_within))
                .await
            {
                Ok(answer) => match answer.action {
                    ElicitationAction::Accept => {
                        self.sessions.accept(&session, id);
                        accepted = true;
                    }
                    ElicitationAction::Decline => {
                        return self.end(caller, open, Finished::Declined, key).await;
                    }
                    // Cancel, and whatever a later revision adds: the user did not agree.
                    _ => return self.end(caller, open, Finished::Cancelled, key).await,
                },
                Err(e) => tracing::debug!(target: "oob", error = %e,
                    "the in-call URL elicitation failed; answering -32042 instead"),
            }
        }
        if accepted {
            match self
                .manager
                .wait(id, self.accept_wait)
                .await
                .map_err(internal)?
            {
                Outcome::Completed(_) => {
                    self.sessions.forget(&session, id);
                    return self.loaded(caller, key).await;
                }
                Outcome::TimedOut => {}
                other => {
                    self.sessions.forget(&session, id);
                    return Ok(finished_result(outcome_finish(&other)));
                }
            }
        }
        self.sessions
            .spawn_notifier(&self.manager, ctx, session, id, self.notify_within);
        Err(url_elicitation_required(&UrlElicitationRequired::new([
            elicitation,
        ])))
    }

    /// Ends `open` as the user answered (declined or cancelled), and says so to the model.
    async fn end<Val>(
        &self,
        caller: &NamespaceToken<'_>,
        open: Pending<T, Open>,
        how: Finished,
        key: &str,
    ) -> Result<Gate<Val>, ErrorData>
    where
        V: Vault<Val>,
    {
        let ended = if how == Finished::Declined {
            self.manager.decline(open).await
        } else {
            self.manager.cancel(open).await
        };
        match ended {
            Ok(_) => Ok(finished_result(Some(how))),
            // It finished another way first (completed in the browser a moment ago).
            Err(e) if e.is_client_error() => match self.load(caller, key).await? {
                Some(value) => Ok(Gate::Ready(value)),
                None => Ok(finished_result(Some(how))),
            },
            Err(e) => Err(internal(e)),
        }
    }

    async fn retry<Val>(
        &self,
        ctx: &RequestContext<RoleServer>,
        caller: &NamespaceToken<'_>,
        call: &ToolCall,
        key: &str,
        message: &str,
        state: &str,
    ) -> Result<Gate<Val>, ErrorData>
    where
        V: Vault<Val>,
    {
        let namespace = caller.namespace();
        if revision_of(ctx) != Some(Revision::MultiRoundTrip) {
            return Err(ErrorData::invalid_params(
                "requestState is not part of this protocol version",
                None,
            ));
        }
        let params = call.bound_params();
        let binding = Binding::new(namespace, TOOLS_CALL, &params);
        let opened = self
            .keys
            .open(state, &binding, SystemTime::now())
            .map_err(|e| ErrorData::invalid_params(format!("requestState rejected: {e}"), None))?;
        let mut waited = false;
        loop {
            match resume(&self.manager, &opened, namespace)
                .await
                .map_err(internal)?
            {
                Resume::Proceed(_) => return self.proceed(caller, &opened, key).await,
                Resume::Failed(failure) => return Ok(failure_result(&failure)),
                Resume::StillOpen(open) => {
                    let modes = modes_of(ctx);
                    if !modes.url() {
                        return Err(missing_capability());
                    }
                    let mut accepted = Vec::new();
                    let mut still = Vec::new();
                    for p in open {
                        let name = input_name::<T>(&opened, p.id(), p.alias());
                        match call.action(&name) {
                            Some("decline") => {
                                return self.end(caller, p, Finished::Declined, key).await;
                            }
                            Some("cancel") => {
                                return self.end(caller, p, Finished::Cancelled, key).await;
                            }
                            Some("accept") => accepted.push(p.id()),
                            _ => {}
                        }
                        still.push(p);
                    }
                    if waited || accepted.is_empty() {
                        return self.ask(call, namespace, modes, &still, message);
                    }
                    // The user agreed to open the URL(s): give the browser step time before
                    // asking again, then decide from the pendings' states once more.
                    waited = true;
                    let until = tokio::time::Instant::now() + self.accept_wait;
                    for id in accepted {
                        let left = until.saturating_duration_since(tokio::time::Instant::now());
                        match self.manager.wait(id, left).await.map_err(internal)? {
                            Outcome::Completed(_) => {}
                            Outcome::TimedOut => break,
                            // Decided on the next pass (declined, cancelled, expired, gone).
                            _ => {}
                        }
                    }
                }
            }
        }
    }

    async fn proceed<Val>(
        &self,
        caller: &NamespaceToken<'_>,
        opened: &OpenedState,
        key: &str,
    ) -> Result<Gate<Val>, ErrorData>
    where
        V: Vault<Val>,
    {
        // The state is used now, and only now: a retry that is asked again keeps it.
        self.guard
            .consume_boxed(opened.nonce(), opened.expires_at())
            .await
            .map_err(guard_error)?;
        self.loaded(caller, key).await
    }

    async fn loaded<Val>(
        &self,
        caller: &NamespaceToken<'_>,
        key: &str,
    ) -> Result<Gate<Val>, ErrorData>
    where
        V: Vault<Val>,
    {
        match self.load(caller, key).await? {
            Some(value) => Ok(Gate::Ready(value)),
            None => Ok(tool_error(
                "the interaction completed but stored no credential; call the tool again",
            )),
        }
    }

    fn ask<Val>(
        &self,
        call: &ToolCall,
        namespace: &Namespace,
        modes: ElicitationModes,
        open: &[Pending<T, Open>],
        message: &str,
    ) -> Result<Gate<Val>, ErrorData> {
        let params = call.bound_params();
        let binding = Binding::new(namespace, TOOLS_CALL, &params);
        let asks = open
            .iter()
            .enumerate()
            .map(|(i, p)| (name_at::<T>(i, p.alias()), p, message.to_owned()));
        let result =
            InputRequired::for_pendings(&self.keys, &binding, modes, SystemTime::now(), asks)
                .map_err(policy)?;
        Ok(Gate::Respond(CallToolResponse::InputRequired(
            to_input_required_result(&result)?,
        )))
    }

    async fn open_pending(
        &self,
        ctx: &RequestContext<RoleServer>,
        spec: Spec<T>,
    ) -> Result<Option<Pending<T, Open>>, ErrorData> {
        match self.manager.create_or_join(ctx, spec).await {
            Ok(Joined::Declined(_)) => Ok(None),
            Ok(joined) => Ok(joined.into_open()),
            Err(e @ Error::Capacity(_)) => {
                tracing::info!(target: "oob", error = %e, "an MCP caller is at capacity");
                Err(ErrorData::invalid_request(e.to_string(), None))
            }
            Err(e) => Err(internal(e)),
        }
    }

    async fn load<Val>(
        &self,
        caller: &NamespaceToken<'_>,
        key: &str,
    ) -> Result<Option<Val>, ErrorData>
    where
        V: Vault<Val>,
    {
        self.vault.get(caller, key).await.map_err(internal)
    }
}

/// The input request name of the pending at `index` of a round: its alias, else the kind
/// (`kind-<index>` after the first).
fn name_at<T: OobPayload>(index: usize, alias: Option<&str>) -> String {
    match alias {
        Some(alias) if !alias.is_empty() => alias.to_owned(),
        _ if index == 0 => T::KIND.to_owned(),
        _ => format!("{}-{index}", T::KIND),
    }
}

/// The name pending `id` had in the round whose state is `opened` (the state seals the
/// round's ids in order).
fn input_name<T: OobPayload>(opened: &OpenedState, id: PendingId, alias: Option<&str>) -> String {
    let index = opened.ids().iter().position(|&i| i == id).unwrap_or(0);
    name_at::<T>(index, alias)
}

fn outcome_finish<T>(outcome: &Outcome<T>) -> Option<Finished> {
    match outcome {
        Outcome::Declined(_) => Some(Finished::Declined),
        Outcome::Cancelled(_) => Some(Finished::Cancelled),
        Outcome::Expired(_) => Some(Finished::Expired),
        _ => None,
    }
}

/// The tool result for a pending that finished without completing.
fn finished_result<V>(how: Option<Finished>) -> Gate<V> {
    match how {
        Some(Finished::Declined) => tool_error(DECLINED),
        Some(Finished::Cancelled) => tool_error(CANCELLED),
        Some(Finished::Expired) => {
            tool_error("the request for input expired before it was completed; call the tool again")
        }
        _ => tool_error("the request for input no longer exists; call the tool again"),
    }
}

fn failure_result<V>(failure: &ResumeFailure) -> Gate<V> {
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
/// `elicitationId` revision 2026-07-28 removed; [`SpecWire`] writes it without.
pub fn to_input_required_result(result: &InputRequired) -> Result<InputRequiredResult, ErrorData> {
    serde_json::from_value(result.to_result_value()).map_err(internal)
}

/// The protocol revision the client of `ctx` speaks, if oob knows it.
fn revision_of(ctx: &RequestContext<RoleServer>) -> Option<Revision> {
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

fn tool_error<V>(message: &str) -> Gate<V> {
    Gate::Respond(CallToolResult::error(vec![ContentBlock::text(message)]).into())
}

fn policy(e: McpError) -> ErrorData {
    match e {
        McpError::Mode(ModeError::UrlNotDeclared { .. }) => missing_capability(),
        e => internal(e),
    }
}

/// A replay is rejected like any other invalid `requestState` (`-32602`); a full guard is a
/// refusal the client may retry later; a backend failure is internal.
fn guard_error(e: GuardError) -> ErrorData {
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
fn internal(e: impl std::error::Error) -> ErrorData {
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
