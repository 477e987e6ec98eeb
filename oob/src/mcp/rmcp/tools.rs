//! [`OobTools`]: its settings, accessors and [`require`](OobTools::require), which decides
//! how the caller is asked (the 2025-11-25 in-call elicitation is in `elicit`, the
//! 2026-07-28 retry in `retry`).

use std::sync::Arc;
use std::time::Duration;

use ::rmcp::model::ErrorData;
use ::rmcp::service::{RequestContext, RoleServer};

use super::call::Wants;
use super::notify::Sessions;
use super::respond::{missing_capability, modes_of, revision_of, tool_error};
use super::{DECLINED, Gate, Need, ToolCall};
use crate::manager::Manager;
use crate::mcp::guard::DynStateGuard;
use crate::mcp::{MemoryStateGuard, Revision, StateGuard, StateKeys};
use crate::payload::OobPayload;
use crate::provider::NamespaceProvider;
use crate::store::Store;
use crate::vault::Vault;

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
    pub(super) manager: Manager<T, S, P>,
    pub(super) vault: V,
    pub(super) keys: Arc<StateKeys>,
    pub(super) guard: Arc<dyn DynStateGuard>,
    pub(super) sessions: Sessions,
    pub(super) notify_within: Duration,
    pub(super) accept_wait: Duration,
    pub(super) ask_within: Duration,
    pub(super) url_ask: UrlAsk,
    /// What the `requestState`s this glue seals name it by (the kind, and for the OAuth
    /// glue its provider too): a gate passes over a state another glue sealed.
    pub(super) tag: Arc<str>,
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
            tag: self.tag.clone(),
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
            tag: Arc::from(T::KIND),
        }
    }

    /// Enforces single use of `requestState`s with `guard` instead of the default
    /// in-process [`MemoryStateGuard`]. With several replicas, the guard must be shared
    /// between them (`RedisStateGuard` with feature `redis`, or your own over Redis
    /// `SET key <token> NX GET PXAT <expiry>`): a state consumed on one replica can otherwise be
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
    /// [module](super) for what it answers to each kind of client. A tool may require
    /// several credentials in one call (pass the same [`ToolCall`] to each): a 2026-07-28
    /// retry's state is used up once for the call, and each credential missing from the
    /// vault is asked in a round of its own. `Err` is a JSON-RPC error
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
        let wants = Wants::of(&need.spec);
        // A retry: its state is settled once for the call (by this gate or an earlier one).
        if let Some(response) = self
            .settle(ctx, &caller, call, wants, &need.message)
            .await?
        {
            return Ok(Gate::Respond(response));
        }
        let asked_before = call
            .round()
            .lock()
            .await
            .as_ref()
            .is_some_and(|settled| settled.names(T::KIND, wants));
        // Completed (asked before), perhaps on another replica still persisting: `loaded`
        // reads again a moment while it is missing.
        if asked_before {
            return self.loaded(&caller, &need.key).await;
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
                let response = self.ask(call, caller.namespace(), modes, &[open], &need.message)?;
                Ok(Gate::Respond(response))
            }
        }
    }
}
