//! [`OAuthTools`]: an OAuth access token for an rmcp tool call; a consent to give becomes a
//! URL elicitation (features `rmcp` and `oauth`).

use ::rmcp::ErrorData;
use ::rmcp::service::{RequestContext, RoleServer};

use super::call::Wants;
use super::respond::{internal, missing_capability, modes_of, revision_of, tool_error};
use super::settings::ToolSettings;
use super::{DECLINED, Gate, OobTools, ToolCall};
use crate::error::Error;
use crate::mcp::{Revision, StateKeys};
use crate::oauth::{AccessToken, Consent, OAuth, OAuthError, TokenSet};
use crate::pending::Pending;
use crate::provider::NamespaceProvider;
use crate::state::Open;
use crate::store::Store;
use crate::vault::Vault;

/// An [`OAuth`] flow for rmcp tool handlers: the caller's access token, or the answer that
/// asks the user to consent. Cheap to clone.
///
/// [`OAuthTools::access_token`] asks [`OAuth::access_token`] for the caller's token
/// (refreshed when it is about to expire). When that is
/// [`OAuthError::ConsentRequired`] (no grant yet, or the provider rejected the refresh token
/// because the user revoked the grant), the consent pending's URL is handed to the client
/// exactly as [`OobTools::require`] hands over any other pending:
/// - **2025-11-25**: an in-call URL-mode `elicitation/create` (the `-32042` error and a
///   completion notification when the browser step outlasts the wait, or with
///   [`UrlAsk::Error`](super::UrlAsk::Error));
/// - **2026-07-28**: `input_required` with a sealed `requestState`; the retry carrying it
///   gets the token once the consent completed;
/// - a client without URL mode gets a tool error (2025-11-25) or `-32021` (2026-07-28).
///
/// The URL is the pending's own (served by [`OAuth::router`]: owner check, then PKCE to the
/// provider); no token ever passes through the MCP client. A client without URL mode still
/// gets the token of a grant the user already gave; when there is none, the consent pending
/// is created (or joined) before the client's modes rule out asking, and expires unused.
///
/// ```no_run
/// # use oob::mcp::rmcp::{Gate, OAuthTools, ToolCall};
/// # use oob::oauth::{Consent, TokenSet};
/// # use ::rmcp::model::{CallToolResponse, CallToolResult, ContentBlock, ErrorData};
/// # use ::rmcp::service::{RequestContext, RoleServer};
/// # use ::rmcp::{tool, tool_router};
/// # type Flow = OAuthTools<oob::store::MemoryStore<Consent>, oob::provider::FromVerifiedSubject, oob::vault::MemoryVault<TokenSet>>;
/// #[derive(Clone)]
/// struct Server {
///     github: Flow,
/// }
///
/// #[tool_router(server_handler)]
/// impl Server {
///     #[tool(description = "Who am I on GitHub?")]
///     async fn whoami(
///         &self,
///         ctx: RequestContext<RoleServer>,
///         call: ToolCall,
///     ) -> Result<CallToolResponse, ErrorData> {
///         let token = match self.github.access_token(&ctx, &call).await? {
///             Gate::Ready(token) => token,
///             // Asks the user to connect GitHub (URL elicitation / input_required).
///             Gate::Respond(response) => return Ok(response),
///         };
///         // Call the API with `Authorization: Bearer {token.secret()}`.
///         # let _ = token;
///         Ok(CallToolResult::success(vec![ContentBlock::text("...")]).into())
///     }
/// }
/// ```
pub struct OAuthTools<S, P, V> {
    oauth: OAuth<S, P, V>,
    tools: OobTools<Consent, S, P, V>,
    message: String,
}

impl<S, P, V: Clone> Clone for OAuthTools<S, P, V> {
    fn clone(&self) -> Self {
        Self {
            oauth: self.oauth.clone(),
            tools: self.tools.clone(),
            message: self.message.clone(),
        }
    }
}

impl<S, P, V> std::fmt::Debug for OAuthTools<S, P, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthTools")
            .field("oauth", &self.oauth)
            .field("tools", &self.tools)
            .finish_non_exhaustive()
    }
}

impl<S, P, V> OAuthTools<S, P, V>
where
    S: Store<Consent>,
    P: NamespaceProvider<RequestContext<RoleServer>>,
    V: Vault<TokenSet> + Clone,
{
    /// Tool-call glue for `oauth`: its manager and vault, `requestState`s sealed with
    /// `keys` (single use in one process; see [`configure`](Self::configure) for the rest).
    #[must_use]
    pub fn new(oauth: OAuth<S, P, V>, keys: StateKeys) -> Self {
        let mut tools = OobTools::new(oauth.manager().clone(), oauth.vault().clone(), keys);
        // Its states name the provider too: the glues of two providers (one consent kind)
        // in one tool each pass over the other's.
        tools.tag = format!(
            "{}#{}",
            <Consent as crate::OobPayload>::KIND,
            oauth.provider().name()
        )
        .into();
        let message = format!(
            "Connect your {} account to continue.",
            oauth.provider().name()
        );
        Self {
            oauth,
            tools,
            message,
        }
    }

    /// What the user is told with the URL (default: "Connect your {provider} account to
    /// continue.").
    #[must_use]
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Configures the elicitation glue (accept wait, state guard for several replicas,
    /// [`UrlAsk`](super::UrlAsk), ...): `f` gets its [`ToolSettings`] (plain values), which
    /// are applied to the glue over the flow's own consent manager and vault.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use oob::mcp::StateKeys;
    /// # use oob::mcp::rmcp::{OAuthTools, OobTools};
    /// # use oob::oauth::{Consent, OAuth, Provider};
    /// # use oob::provider::FromVerifiedSubject;
    /// # use oob::store::MemoryStore;
    /// # use oob::vault::MemoryVault;
    /// # use oob::{CallbackBase, Manager};
    /// # fn manager() -> Manager<Consent, MemoryStore<Consent>, FromVerifiedSubject> {
    /// #     Manager::builder()
    /// #         .store(MemoryStore::new())
    /// #         .provider(FromVerifiedSubject)
    /// #         .callback_base(CallbackBase::parse("https://ex.com").unwrap())
    /// #         .build()
    /// # }
    /// # let keys = || StateKeys::new([7u8; 32]).unwrap();
    /// # let provider = Provider::new("github", "id", "https://github.com/login/oauth/authorize",
    /// #     "https://github.com/login/oauth/access_token", "https://ex.com/oob/oauth/callback").unwrap();
    /// let flow = OAuth::new(manager(), MemoryVault::new(), provider).unwrap();
    /// let github = OAuthTools::new(flow, keys()).configure(|s| s.accept_wait(Duration::from_secs(5)));
    /// ```
    ///
    /// The settings hold no glue: glue over another manager and vault (a consent asked for
    /// by one manager and waited for by another) cannot be handed back.
    ///
    /// ```compile_fail,E0308
    /// # use std::time::Duration;
    /// # use oob::mcp::StateKeys;
    /// # use oob::mcp::rmcp::{OAuthTools, OobTools};
    /// # use oob::oauth::{Consent, OAuth, Provider};
    /// # use oob::provider::FromVerifiedSubject;
    /// # use oob::store::MemoryStore;
    /// # use oob::vault::MemoryVault;
    /// # use oob::{CallbackBase, Manager};
    /// # fn manager() -> Manager<Consent, MemoryStore<Consent>, FromVerifiedSubject> {
    /// #     Manager::builder()
    /// #         .store(MemoryStore::new())
    /// #         .provider(FromVerifiedSubject)
    /// #         .callback_base(CallbackBase::parse("https://ex.com").unwrap())
    /// #         .build()
    /// # }
    /// # let keys = || StateKeys::new([7u8; 32]).unwrap();
    /// # let provider = Provider::new("github", "id", "https://github.com/login/oauth/authorize",
    /// #     "https://github.com/login/oauth/access_token", "https://ex.com/oob/oauth/callback").unwrap();
    /// let flow = OAuth::new(manager(), MemoryVault::new(), provider).unwrap();
    /// let github = OAuthTools::new(flow, keys())
    ///     .configure(|_| OobTools::new(manager(), MemoryVault::new(), keys()));
    /// ```
    #[must_use]
    pub fn configure(mut self, f: impl FnOnce(ToolSettings) -> ToolSettings) -> Self {
        self.tools = f(ToolSettings::of(&self.tools)).apply(self.tools);
        self
    }

    /// The OAuth flow (for its [`router`](OAuth::router), [`revoke`](OAuth::revoke), ...).
    #[must_use]
    pub fn oauth(&self) -> &OAuth<S, P, V> {
        &self.oauth
    }

    /// The elicitation glue over the consent manager.
    #[must_use]
    pub fn tools(&self) -> &OobTools<Consent, S, P, V> {
        &self.tools
    }

    /// The access token of the caller of `ctx` (refreshed first when it is about to
    /// expire), or the response that asks the user to consent (see [`OAuthTools`]).
    /// A declined consent, a refresh in progress elsewhere for too long, or a provider
    /// that failed become tool results the model can read. `Err` is a JSON-RPC error for
    /// the whole request (`-32042`, `-32021`, a rejected `requestState`, a caller at
    /// capacity, or a failure of the store or vault, logged and not sent in detail).
    pub async fn access_token(
        &self,
        ctx: &RequestContext<RoleServer>,
        call: &ToolCall,
    ) -> Result<Gate<AccessToken>, ErrorData> {
        let caller = self.tools.manager.caller(ctx).map_err(|e| {
            tracing::debug!(target: "oob", error = %e, "an MCP caller could not be identified");
            ErrorData::invalid_request("the caller could not be identified", None)
        })?;
        let key = self.oauth.provider().vault_key();
        // A retry: its state is settled once for the call (the consent completed: go on and
        // read the token; or asked again); a state of another gate of the call is skipped.
        let wants = Wants {
            alias: None,
            resource: Some(self.oauth.consent_resource()),
        };
        if let Some(response) = self
            .tools
            .settle(ctx, &caller, call, wants, &self.message)
            .await?
        {
            return Ok(Gate::Respond(response));
        }
        let mut asked = false;
        loop {
            match self.oauth.access_token(ctx).await {
                Ok(token) => return Ok(Gate::Ready(token)),
                Err(OAuthError::ConsentRequired(open)) if !asked => {
                    asked = true;
                    // Ready only when the user consented during this call (2025-11-25,
                    // in-call elicitation): the token is read again above.
                    if let Gate::Respond(response) = self.ask(ctx, call, *open, &key).await? {
                        return Ok(Gate::Respond(response));
                    }
                }
                Err(OAuthError::ConsentRequired(_)) => {
                    return Ok(tool_error(
                        "the provider's grant could not be used right after the consent; call the tool again",
                    ));
                }
                Err(e) => return failed(e),
            }
        }
    }

    /// Hands the consent pending `open` to the client as its revision expects.
    async fn ask(
        &self,
        ctx: &RequestContext<RoleServer>,
        call: &ToolCall,
        open: Pending<Consent, Open>,
        key: &str,
    ) -> Result<Gate<TokenSet>, ErrorData> {
        let caller = self.tools.manager.caller(ctx).map_err(internal)?;
        let modes = modes_of(ctx);
        match revision_of(ctx) {
            None => Ok(tool_error(
                "this tool needs URL-mode elicitation (MCP 2025-11-25 or later), which this client does not support",
            )),
            Some(Revision::UrlElicitation) => {
                if !modes.url() {
                    return Ok(tool_error(
                        "this tool needs URL-mode elicitation, which this client did not declare",
                    ));
                }
                self.tools
                    .elicit(ctx, &caller, open, modes, &self.message, key)
                    .await
            }
            Some(_) => {
                if !modes.url() {
                    return Err(missing_capability());
                }
                let response =
                    self.tools
                        .ask(call, caller.namespace(), modes, &[open], &self.message)?;
                Ok(Gate::Respond(response))
            }
        }
    }
}

/// An [`OAuthError`] other than a consent to ask for, as the tool's answer.
fn failed(e: OAuthError) -> Result<Gate<AccessToken>, ErrorData> {
    match e {
        OAuthError::Declined => Ok(tool_error(DECLINED)),
        OAuthError::Busy => Ok(tool_error(
            "the token is being refreshed by another request; call the tool again in a moment",
        )),
        OAuthError::Provider(source) => {
            tracing::warn!(target: "oob", error = %source, "the OAuth provider failed");
            Ok(tool_error(
                "the provider refused the request or could not be reached; try again later",
            ))
        }
        OAuthError::Manager(e @ (Error::Capacity(_) | Error::RateLimited { .. })) => {
            tracing::info!(target: "oob", error = %e, "an MCP caller is at capacity");
            Err(ErrorData::invalid_request(e.to_string(), None))
        }
        e => Err(internal(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A caller at capacity or over its create rate is told so (an invalid request with the
    /// error's text), not answered with an internal error.
    #[test]
    fn capacity_and_rate_are_the_callers_to_hear() {
        let rate = Error::RateLimited {
            retry_after: std::time::Duration::from_secs(2),
        };
        let capacity = Error::Capacity(crate::store::Scope::Namespace);
        for e in [rate, capacity] {
            let text = e.to_string();
            let Err(answer) = failed(OAuthError::Manager(e)) else {
                panic!("answered as a tool result")
            };
            assert_eq!(answer.code, ::rmcp::model::ErrorCode::INVALID_REQUEST);
            assert_eq!(answer.message, text);
        }
    }
}
