//! Glue for the official MCP Rust SDK, `rmcp` (feature `rmcp`): a tool handler requires a
//! credential in a few lines, for clients of both protocol revisions.
//!
//! [`OobTools::require`] resolves the caller's namespace from the request context, and:
//! - when the vault already holds the credential under that namespace, returns it;
//! - for a 2025-11-25 client, creates (or joins) the pending, answers with the `-32042`
//!   URL-elicitation error, and spawns a waiter that sends
//!   `notifications/elicitation/complete` when the user completes it; the client's retry
//!   then finds the credential in the vault;
//! - for a 2026-07-28 client, answers `input_required` with a sealed `requestState`; on the
//!   retry it verifies the state (caller, method, params, expiry), asks again while the
//!   pending is open, fails with a tool error if it was declined, cancelled or expired, and
//!   returns the credential once it was completed, consuming the state in the
//!   [`StateGuard`] so that it is used once (a replay is rejected like any other invalid
//!   state; see [`OobTools::state_guard`] for several replicas);
//! - for a client that did not declare URL-mode elicitation, answers with the
//!   missing-capability error (`-32021`, 2026-07-28) or a tool error (2025-11-25), never with
//!   a URL.
//!
//! ```no_run
//! # use oob::mcp::rmcp::{Gate, Need, OobTools, ToolCall};
//! # use ::rmcp::model::{CallToolResponse, CallToolResult, ContentBlock, ErrorData, JsonObject};
//! # use ::rmcp::service::{RequestContext, RoleServer};
//! # #[derive(Clone, oob::OobPayload)]
//! # #[oob(kind = "token", route = "/oob/token/{id}")]
//! # struct Token;
//! # type Tools = OobTools<Token, oob::store::MemoryStore<Token>, oob::provider::FromVerifiedSubject, oob::vault::MemoryVault<String>>;
//! async fn list_repos(
//!     oob: &Tools,
//!     ctx: RequestContext<RoleServer>,
//!     call: ToolCall,
//! ) -> Result<CallToolResponse, ErrorData> {
//!     let need = Need::new(oob::Spec::new(Token), "upstream", "Sign in to the upstream service.");
//!     let token: String = match oob.require(&ctx, &call, need).await? {
//!         Gate::Ready(token) => token,
//!         Gate::Respond(response) => return Ok(response),
//!     };
//!     Ok(CallToolResult::success(vec![ContentBlock::text(format!("{} bytes", token.len()))]).into())
//! }
//! ```

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ::rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, CustomNotification,
    ErrorCode, ErrorData, InputRequiredResult, JsonObject, ServerNotification,
};
use ::rmcp::service::{RequestContext, RoleServer};
use serde_json::Value;

use super::guard::DynStateGuard;
use super::{
    Binding, ElicitationComplete, ElicitationModes, GuardError, InputRequired, McpError,
    MemoryStateGuard, ModeError, Resume, Revision, StateGuard, StateKeys, UrlElicitation,
    UrlElicitationRequired, missing_capability_error, resume,
};
use crate::capability::NamespaceToken;
use crate::error::Error;
use crate::manager::{Joined, Manager, Outcome};
use crate::namespace::Namespace;
use crate::payload::OobPayload;
use crate::pending::Pending;
use crate::provider::{NamespaceProvider, SubjectSource, VerifiedSubject};
use crate::spec::Spec;
use crate::state::Open;
use crate::store::Store;
use crate::vault::Vault;

/// The JSON-RPC method a tool call's `requestState` is bound to.
pub const TOOLS_CALL: &str = "tools/call";

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

/// The parts of a `tools/call` request the gate binds a `requestState` to: the tool name,
/// the raw arguments and the echoed `requestState`.
#[derive(Clone)]
pub struct ToolCall {
    name: String,
    arguments: JsonObject,
    request_state: Option<String>,
}

/// Prints the tool name only: arguments and `requestState` may carry secrets.
impl std::fmt::Debug for ToolCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolCall")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ToolCall {
    /// A call from its parts (e.g. rmcp's `ToolName`, `JsonObject` and `RequestState`
    /// extractors).
    #[must_use]
    pub fn new(
        name: impl Into<String>,
        arguments: JsonObject,
        request_state: Option<String>,
    ) -> Self {
        Self {
            name: name.into(),
            arguments,
            request_state,
        }
    }

    /// The call of a whole `tools/call` params.
    #[must_use]
    pub fn from_params(params: &CallToolRequestParams) -> Self {
        Self {
            name: params.name.to_string(),
            arguments: params.arguments.clone().unwrap_or_default(),
            request_state: params.request_state.clone(),
        }
    }

    /// The tool name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The arguments.
    #[must_use]
    pub fn arguments(&self) -> &JsonObject {
        &self.arguments
    }

    /// The echoed `requestState`, if any.
    #[must_use]
    pub fn request_state(&self) -> Option<&str> {
        self.request_state.as_deref()
    }

    /// The params a `requestState` binds: name and arguments.
    fn bound_params(&self) -> Value {
        serde_json::json!({"name": self.name, "arguments": self.arguments})
    }
}

/// What a tool needs: the spec of the pending to create (or join), the vault key the
/// interaction's handler stores the credential under, and the message shown to the user.
#[derive(Clone)]
pub struct Need<T> {
    spec: Spec<T>,
    key: String,
    message: String,
}

/// Prints the vault key only: the spec's payload and the message may be personal.
impl<T> std::fmt::Debug for Need<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Need")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl<T> Need<T> {
    /// A need.
    #[must_use]
    pub fn new(spec: Spec<T>, vault_key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            spec,
            key: vault_key.into(),
            message: message.into(),
        }
    }
}

/// What [`OobTools::require`] decided.
pub enum Gate<V> {
    /// The credential, from the vault under the caller's namespace: go on.
    Ready(V),
    /// Return this from the tool: `input_required`, or a tool error the user should see.
    Respond(CallToolResponse),
}

/// Never prints the credential.
impl<V> std::fmt::Debug for Gate<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ready(_) => f.write_str("Gate::Ready(..)"),
            Self::Respond(_) => f.write_str("Gate::Respond(..)"),
        }
    }
}

/// Manager, vault, request-state keys and request-state guard for rmcp tool handlers. Cheap
/// to clone (clones share the guard).
pub struct OobTools<T, S, P, V> {
    manager: Manager<T, S, P>,
    vault: V,
    keys: Arc<StateKeys>,
    guard: Arc<dyn DynStateGuard>,
    notify_within: Duration,
}

impl<T, S, P, V: Clone> Clone for OobTools<T, S, P, V> {
    fn clone(&self) -> Self {
        Self {
            manager: self.manager.clone(),
            vault: self.vault.clone(),
            keys: self.keys.clone(),
            guard: self.guard.clone(),
            notify_within: self.notify_within,
        }
    }
}

impl<T, S, P, V> std::fmt::Debug for OobTools<T, S, P, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OobTools")
            .field("manager", &self.manager)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

impl<T, S, P, V> OobTools<T, S, P, V>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    S: Store<T>,
    P: NamespaceProvider<RequestContext<RoleServer>>,
{
    /// How long a spawned waiter waits to send a completion notification, unless
    /// [`notify_within`](Self::notify_within) says otherwise: 15 minutes.
    pub const DEFAULT_NOTIFY_WITHIN: Duration = Duration::from_secs(900);

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
            notify_within: Self::DEFAULT_NOTIFY_WITHIN,
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

    /// How long a spawned waiter waits for a pending to complete before giving up on its
    /// completion notification (2025-11-25).
    #[must_use]
    pub fn notify_within(mut self, within: Duration) -> Self {
        self.notify_within = within;
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

    /// Requires the credential `need` describes for the caller of `ctx`; see the
    /// [module](self) for what it answers to each kind of client. `Err` is a JSON-RPC error
    /// for the whole request (`-32042`, `-32021`, a rejected `requestState`, or a failure of
    /// the store or vault, whose details are not sent).
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
        let caller = self
            .manager
            .caller(ctx)
            .map_err(|_| ErrorData::invalid_request("the caller could not be identified", None))?;
        let namespace = caller.namespace();
        let revision = ctx
            .protocol_version()
            .and_then(|v| Revision::of_version(v.as_str()));

        if let Some(state) = call.request_state() {
            return self.retry(ctx, &caller, call, need, revision, state).await;
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
                if modes.require_url().is_err() {
                    return Ok(tool_error(
                        "this tool needs URL-mode elicitation, which this client did not declare",
                    ));
                }
                let Some(open) = self.open_pending(ctx, need.spec).await? else {
                    return Ok(tool_error("the request for input was declined recently"));
                };
                let elicitation =
                    UrlElicitation::new(&open, need.message, modes).map_err(policy)?;
                self.spawn_notifier(ctx, &open);
                Err(url_elicitation_required(&UrlElicitationRequired::new([
                    elicitation,
                ])))
            }
            Some(_) => {
                if modes.require_url().is_err() {
                    return Err(missing_capability());
                }
                let Some(open) = self.open_pending(ctx, need.spec).await? else {
                    return Ok(tool_error("the request for input was declined recently"));
                };
                self.ask(call, namespace, modes, &[open], &need.message)
            }
        }
    }

    async fn retry<Val>(
        &self,
        ctx: &RequestContext<RoleServer>,
        caller: &NamespaceToken<'_>,
        call: &ToolCall,
        need: Need<T>,
        revision: Option<Revision>,
        state: &str,
    ) -> Result<Gate<Val>, ErrorData>
    where
        V: Vault<Val>,
    {
        let namespace = caller.namespace();
        if revision != Some(Revision::MultiRoundTrip) {
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
        match resume(&self.manager, &opened, namespace)
            .await
            .map_err(internal)?
        {
            Resume::Proceed(_) => {
                // The state is used now, and only now: a retry that is asked again keeps it.
                self.guard
                    .consume_boxed(opened.nonce(), opened.expires_at())
                    .await
                    .map_err(guard_error)?;
                match self.load(caller, &need.key).await? {
                    Some(value) => Ok(Gate::Ready(value)),
                    None => Ok(tool_error(
                        "the interaction completed but stored no credential; call the tool again",
                    )),
                }
            }
            Resume::StillOpen(open) => {
                let modes = modes_of(ctx);
                if modes.require_url().is_err() {
                    return Err(missing_capability());
                }
                self.ask(call, namespace, modes, &open, &need.message)
            }
            Resume::Failed(failure) => Ok(tool_error(&failure.to_string())),
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
        let asks = open.iter().enumerate().map(|(i, p)| {
            let name = match p.alias() {
                Some(alias) if !alias.is_empty() => alias.to_owned(),
                _ if i == 0 => T::KIND.to_owned(),
                _ => format!("{}-{i}", T::KIND),
            };
            (name, p, message.to_owned())
        });
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
            Err(e @ Error::Capacity(_)) => Err(ErrorData::invalid_request(e.to_string(), None)),
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

    /// Spawns the waiter that sends `notifications/elicitation/complete` to this request's
    /// client when the pending completes (and nothing when it is cancelled, declined or
    /// expires, or `notify_within` passes).
    fn spawn_notifier(&self, ctx: &RequestContext<RoleServer>, open: &Pending<T, Open>) {
        let manager = self.manager.clone();
        let peer = ctx.peer.clone();
        let (id, within) = (open.id(), self.notify_within);
        tokio::spawn(async move {
            if let Ok(Outcome::Completed(done)) = manager.wait(id, within).await {
                let _ = peer.send_notification(completion_notification(&done)).await;
            }
        });
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

/// The `-32042` error as an rmcp [`ErrorData`].
#[must_use]
pub fn url_elicitation_required(error: &UrlElicitationRequired) -> ErrorData {
    let code = i32::try_from(error.code()).unwrap_or(i32::MIN);
    ErrorData::new(
        ErrorCode(code),
        error.message().to_owned(),
        Some(error.to_data_value()),
    )
}

/// The `-32021` missing-capability error (URL-mode elicitation) as an rmcp [`ErrorData`].
#[must_use]
pub fn missing_capability() -> ErrorData {
    let v = missing_capability_error();
    let code = v["code"]
        .as_i64()
        .and_then(|c| i32::try_from(c).ok())
        .unwrap_or(i32::MIN);
    let message = v["message"].as_str().unwrap_or_default().to_owned();
    ErrorData::new(ErrorCode(code), message, v.get("data").cloned())
}

/// An [`InputRequired`] as rmcp's [`InputRequiredResult`].
pub fn to_input_required_result(result: &InputRequired) -> Result<InputRequiredResult, ErrorData> {
    serde_json::from_value(result.to_result_value()).map_err(internal)
}

/// The elicitation modes the client of `ctx` declared (per request for 2026-07-28, at
/// `initialize` before).
#[must_use]
pub fn modes_of(ctx: &RequestContext<RoleServer>) -> ElicitationModes {
    ctx.client_capabilities()
        .and_then(|c| serde_json::to_value(c).ok())
        .map_or(ElicitationModes::NONE, |c| {
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
        GuardError::Full { .. } => ErrorData::invalid_request(
            "too many request states in use; call the tool again later",
            None,
        ),
        e => internal(e),
    }
}

/// A failure of the service: logged nowhere here, and never sent in detail.
fn internal(_e: impl std::error::Error) -> ErrorData {
    ErrorData::internal_error("internal error", None)
}
