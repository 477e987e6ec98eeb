//! [`ToolCall`] (what a `requestState` binds, and the client's `inputResponses`), usable as
//! an rmcp extractor; [`Need`] and [`Gate`].

use std::sync::Arc;

use ::rmcp::ErrorData;
use ::rmcp::handler::server::common::FromContextPart;
use ::rmcp::handler::server::tool::ToolCallContext;
use ::rmcp::model::{CallToolRequestParams, CallToolResponse, InputResponses, JsonObject};
use ::rmcp::service::{RequestContext, RoleServer};
use serde_json::Value;

use super::TOOLS_CALL;
use super::wire_calls::WireCalls;
use crate::mcp::Binding;
use crate::namespace::Namespace;
use crate::spec::Spec;

/// The parts of a `tools/call` request the gate needs: the tool name and raw arguments
/// (which a `requestState` is bound to), the echoed `requestState` and the client's
/// `inputResponses` (2026-07-28).
///
/// In a `#[tool]` method it is an extractor. rmcp's `Parameters<P>` and `JsonObject`
/// extractors take the arguments out of rmcp's context, so `ToolCall` reads them from what
/// [`spec_wire`](super::spec_wire) or [`SpecWire`](super::SpecWire) kept of the request:
/// served through either, the order of the extractors does not matter. Served through
/// neither, `ToolCall` must come before `Parameters`/`JsonObject`; when it finds the
/// arguments already taken (or the client sent none), a 2026-07-28 round that would seal or
/// open a `requestState` fails with an internal error rather than bind the state to
/// arguments it cannot see.
///
/// One `ToolCall` is one call: pass the same one to every
/// [`require`](super::OobTools::require) (and `OAuthTools::access_token`) of a tool that
/// needs several credentials. The retry's `requestState` is used up once for the call (the
/// `ToolCall` remembers it), and each need missing from the vault is asked in its own round.
///
/// ```ignore
/// #[tool(description = "List your repositories")]
/// async fn list_repos(
///     &self,
///     ctx: RequestContext<RoleServer>,
///     call: ToolCall,
/// ) -> Result<CallToolResponse, ErrorData> { .. }
/// ```
#[derive(Clone)]
pub struct ToolCall {
    name: String,
    /// Shared with what [`spec_wire`](super::spec_wire) kept of the request (one copy of
    /// arguments that may be large).
    arguments: Arc<JsonObject>,
    /// Whether `arguments` are the request's (false: rmcp's context had none left).
    known: bool,
    request_state: Option<String>,
    input_responses: InputResponses,
    /// What this call's `requestState` settled, once a gate settled it.
    round: Arc<tokio::sync::Mutex<Option<Settled>>>,
}

/// A `requestState` this call used up: the pendings it named, which all completed.
#[derive(Debug, Clone, Default)]
pub(super) struct Settled {
    /// The kind, alias and resource of each completed pending.
    pub(super) done: Vec<(&'static str, Option<String>, Option<String>)>,
}

impl Settled {
    /// Whether a completed pending of the state is the one a gate of kind `kind` that
    /// `wants` would create.
    pub(super) fn names(&self, kind: &str, wants: Wants<'_>) -> bool {
        self.done.iter().any(|(k, alias, resource)| {
            *k == kind && wants.is(alias.as_deref(), resource.as_deref())
        })
    }
}

/// Which pending a gate creates (or joins), besides its kind: its alias and resource.
#[derive(Debug, Clone, Copy)]
pub(super) struct Wants<'a> {
    pub(super) alias: Option<&'a str>,
    pub(super) resource: Option<&'a str>,
}

impl<'a> Wants<'a> {
    /// What `spec` creates.
    pub(super) fn of<T>(spec: &'a Spec<T>) -> Self {
        Self {
            alias: spec.alias.as_deref(),
            resource: spec.resource.as_deref(),
        }
    }

    /// Whether a pending with this alias and resource is the one wanted.
    pub(super) fn is(self, alias: Option<&str>, resource: Option<&str>) -> bool {
        self.alias == alias && self.resource == resource
    }
}

/// Prints the tool name only: arguments, `requestState` and responses may carry secrets.
impl std::fmt::Debug for ToolCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolCall")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ToolCall {
    /// A call from its parts (e.g. rmcp's `ToolName`, `JsonObject` and `RequestState`
    /// extractors); no `inputResponses` (add them with
    /// [`with_input_responses`](Self::with_input_responses)).
    #[must_use]
    pub fn new(
        name: impl Into<String>,
        arguments: JsonObject,
        request_state: Option<String>,
    ) -> Self {
        Self {
            name: name.into(),
            arguments: Arc::new(arguments),
            known: true,
            request_state,
            input_responses: InputResponses::new(),
            round: Arc::default(),
        }
    }

    /// The client's answers to the previous round's input requests (2026-07-28).
    #[must_use]
    pub fn with_input_responses(mut self, responses: InputResponses) -> Self {
        self.input_responses = responses;
        self
    }

    /// The call of a whole `tools/call` params.
    #[must_use]
    pub fn from_params(params: &CallToolRequestParams) -> Self {
        Self {
            name: params.name.to_string(),
            arguments: Arc::new(params.arguments.clone().unwrap_or_default()),
            known: true,
            request_state: params.request_state.clone(),
            input_responses: params.input_responses.clone().unwrap_or_default(),
            round: Arc::default(),
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

    /// The client's answers to the previous round's input requests, by input request name.
    #[must_use]
    pub fn input_responses(&self) -> &InputResponses {
        &self.input_responses
    }

    /// The `action` the client answered to the input request `name`, if it answered it
    /// with an elicitation result.
    pub(super) fn action(&self, name: &str) -> Option<&str> {
        self.input_responses
            .get(name)
            .and_then(|r| r.get("action"))
            .and_then(Value::as_str)
    }

    /// What a `requestState` of `namespace`'s caller binds: this call's name and arguments,
    /// digested (the params built for the digest are dropped at once: a call's arguments may
    /// be large, and a retry waits). An error when the arguments could not be seen (see
    /// [`ToolCall`]).
    pub(super) fn binding<'a>(&self, namespace: &'a Namespace) -> Result<Binding<'a>, ErrorData> {
        Ok(Binding::new(namespace, TOOLS_CALL, &self.bound_params()?))
    }

    /// The params a `requestState` binds: name and arguments (see [`binding`](Self::binding)).
    fn bound_params(&self) -> Result<Value, ErrorData> {
        if !self.known {
            tracing::error!(target: "oob", tool = %self.name,
                "ToolCall found no arguments: serve the MCP endpoint through spec_wire or SpecWire, or put the ToolCall extractor before Parameters/JsonObject");
            return Err(ErrorData::internal_error(
                "the server cannot bind a requestState to this call's arguments",
                None,
            ));
        }
        Ok(serde_json::json!({"name": self.name, "arguments": *self.arguments}))
    }

    /// What this call's `requestState` settled (a lock: one gate at a time settles it).
    pub(super) fn round(&self) -> &tokio::sync::Mutex<Option<Settled>> {
        &self.round
    }
}

/// rmcp extractor: the call of the `#[tool]` method's request. Reads the name and arguments
/// [`spec_wire`](super::spec_wire) or [`SpecWire`](super::SpecWire) kept of the request
/// (so rmcp's `Parameters` may come first and take them), else what rmcp's context still
/// has; copies (never takes) the `requestState` and `inputResponses`.
impl<S> FromContextPart<ToolCallContext<'_, S>> for ToolCall {
    fn from_context_part(context: &mut ToolCallContext<'_, S>) -> Result<Self, ErrorData> {
        let kept = kept_arguments(&context.request_context, &context.name);
        let (arguments, known) = match (kept, &context.arguments) {
            // Both seen: they are one request's, unless something rewrote them in between.
            (Some(kept), Some(left)) if *kept != *left => {
                return Err(ErrorData::invalid_params(
                    "the tool call's arguments changed after the request was read",
                    None,
                ));
            }
            (Some(kept), _) => (kept, true),
            (None, Some(left)) => (Arc::new(left.clone()), true),
            (None, None) => (Arc::default(), false),
        };
        Ok(Self {
            name: context.name.to_string(),
            arguments,
            known,
            request_state: context.request_state.clone(),
            input_responses: context.input_responses.clone().unwrap_or_default(),
            round: Arc::default(),
        })
    }
}

/// The arguments of the `tools/call` of `ctx` named `name`, as the request carried them,
/// from [`SpecWire`](super::SpecWire) (the context's extensions) or
/// [`spec_wire`](super::spec_wire) (the HTTP request's), matched by JSON-RPC id.
fn kept_arguments(ctx: &RequestContext<RoleServer>, name: &str) -> Option<Arc<JsonObject>> {
    let id = serde_json::to_value(&ctx.id).ok()?;
    let direct = ctx.extensions.get::<WireCalls>();
    let http = ctx
        .extensions
        .get::<http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<WireCalls>());
    direct
        .into_iter()
        .chain(http)
        .find_map(|calls| calls.find(&id, name))
}

/// What a tool needs: the spec of the pending to create (or join), the vault key the
/// interaction's handler stores the credential under, and the message shown to the user.
#[derive(Clone)]
pub struct Need<T> {
    pub(super) spec: Spec<T>,
    pub(super) key: String,
    pub(super) message: String,
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

/// What [`OobTools::require`](super::OobTools::require) decided.
pub enum Gate<V> {
    /// The credential, from the vault under the caller's namespace: go on.
    Ready(V),
    /// Return this from the tool: `input_required`, or a tool result the model should see
    /// (the user declined or cancelled, the client cannot do URL mode, ...).
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
