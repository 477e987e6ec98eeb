//! The `whoami` tool's third party: an OAuth 2.1 / OpenID Connect provider configured from
//! the environment, reached through `oob::oauth` (consent as a URL elicitation, the callback
//! on this server, tokens refreshed transparently, a revoked grant asked for again).
//!
//! - `OAUTH_ISSUER`: the provider's issuer; its endpoints are read from
//!   `{issuer}/.well-known/openid-configuration`. Or give them one by one (they also override
//!   discovered ones): `OAUTH_AUTH_URL`, `OAUTH_TOKEN_URL`, `OAUTH_REVOCATION_URL`,
//!   `OAUTH_USERINFO_URL`.
//! - `OAUTH_CLIENT_ID`, `OAUTH_CLIENT_SECRET`: this server's registration. The redirect URL
//!   to register is `{server}/oob/oauth/callback` (fix the server's address with
//!   `MCP_SERVER_ADDR`).
//! - `OAUTH_SCOPES` (default `openid`), `OAUTH_REFRESH_MARGIN_SECS` (default 30: how long
//!   before its expiry a token is refreshed).

use std::sync::Arc;
use std::time::Duration;

use oob::mcp::StateKeys;
use oob::mcp::rmcp::{Gate, OAuthTools, ToolCall};
use oob::oauth::{Consent, OAuth, Provider, TokenSet};
use oob::provider::FromVerifiedSubject;
use oob::store::BoxStore;
use oob::vault::BoxVault;
use oob::{CallbackBase, Manager, Sweeper};
use oob_examples::{BoxError, random_bytes};
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock, ErrorData};
use rmcp::service::{RequestContext, RoleServer};
use serde_json::Value;

/// The OAuth flow and its tool-call glue.
pub(crate) type Flow = OAuthTools<BoxStore<Consent>, FromVerifiedSubject, BoxVault<TokenSet>>;

/// The tool result when no provider is configured.
pub(crate) const NOT_CONFIGURED: &str = "No OAuth provider is configured on this server, so `whoami` \
    cannot connect you. Start it with OAUTH_ISSUER (or OAUTH_AUTH_URL and OAUTH_TOKEN_URL), \
    OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET set.";

/// A configured provider: the flow, and where to ask who the user is.
#[derive(Clone)]
pub(crate) struct Connect {
    /// The flow.
    pub(crate) flow: Flow,
    issuer: String,
    userinfo: Option<String>,
    http: reqwest::Client,
    /// Purges the consent store every minute while the server runs (finished consents are
    /// forgotten only by a purge); stops when the last clone is dropped.
    _sweeper: Arc<Sweeper>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The provider from the environment; `None` when `OAUTH_CLIENT_ID` is not set.
pub(crate) async fn from_env(
    base: &str,
    consents: BoxStore<Consent>,
    grants: BoxVault<TokenSet>,
) -> Result<Option<Connect>, BoxError> {
    let Some(client_id) = env("OAUTH_CLIENT_ID") else {
        return Ok(None);
    };
    let http = oob_examples::client()?;
    let issuer = env("OAUTH_ISSUER");
    let discovered: Value = match &issuer {
        Some(issuer) => {
            let url = format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            );
            http.get(url)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?
        }
        None => Value::Null,
    };
    let endpoint =
        |var: &str, field: &str| env(var).or_else(|| discovered[field].as_str().map(str::to_owned));
    let auth = endpoint("OAUTH_AUTH_URL", "authorization_endpoint")
        .ok_or("OAUTH_AUTH_URL (or OAUTH_ISSUER) is required")?;
    let token = endpoint("OAUTH_TOKEN_URL", "token_endpoint")
        .ok_or("OAUTH_TOKEN_URL (or OAUTH_ISSUER) is required")?;
    let scopes = env("OAUTH_SCOPES").unwrap_or_else(|| "openid".to_owned());
    let mut provider = Provider::new(
        "demo",
        client_id,
        auth,
        token,
        format!("{base}/oob/oauth/callback"),
    )?
    .scopes(scopes.split_whitespace());
    if let Some(secret) = env("OAUTH_CLIENT_SECRET") {
        provider = provider.client_secret(secret);
    }
    if let Some(revocation) = endpoint("OAUTH_REVOCATION_URL", "revocation_endpoint") {
        provider = provider.revocation_url(revocation)?;
    }
    let margin = env("OAUTH_REFRESH_MARGIN_SECS")
        .map(|s| s.parse::<u64>())
        .transpose()
        .map_err(|_| "OAUTH_REFRESH_MARGIN_SECS must be a number of seconds")?
        .unwrap_or(30);
    let manager = Manager::builder()
        .store(consents)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse(base)?)
        // A user who declined is not asked again for a minute (the model is told so).
        .decline_cooldown(Duration::from_secs(60))
        .max_creates_per_namespace(super::CREATES_PER_MINUTE, Duration::from_secs(60))
        .build();
    let oauth = OAuth::new(manager, grants, provider)?.refresh_margin(Duration::from_secs(margin));
    let sweeper = Arc::new(oauth.manager().spawn_sweeper(Duration::from_secs(60)));
    // In production: a persistent secret from your key store.
    let keys = StateKeys::new(random_bytes::<32>()?)?.with_ttl(Duration::from_secs(600));
    let flow =
        OAuthTools::new(oauth, keys).message("Connect your account at the identity provider.");
    Ok(Some(Connect {
        flow,
        issuer: issuer.unwrap_or_else(|| "the provider".to_owned()),
        userinfo: endpoint("OAUTH_USERINFO_URL", "userinfo_endpoint"),
        http,
        _sweeper: sweeper,
    }))
}

fn result(text: String, error: bool) -> CallToolResponse {
    let content = vec![ContentBlock::text(text)];
    if error {
        CallToolResult::error(content).into()
    } else {
        CallToolResult::success(content).into()
    }
}

impl Connect {
    /// The `whoami` tool: the caller's access token (asking for consent when there is none
    /// or the grant was revoked), then the provider's userinfo endpoint with it.
    pub(crate) async fn whoami(
        &self,
        ctx: &RequestContext<RoleServer>,
        call: &ToolCall,
    ) -> Result<CallToolResponse, ErrorData> {
        let mut call = call.clone();
        for attempt in 0..2 {
            let token = match self.flow.access_token(ctx, &call).await? {
                Gate::Ready(token) => token,
                Gate::Respond(response) => return Ok(response),
            };
            let Some(userinfo) = &self.userinfo else {
                return Ok(result(
                    format!(
                        "Connected to {}: an access token is available.",
                        self.issuer
                    ),
                    false,
                ));
            };
            let res = self
                .http
                .get(userinfo)
                .bearer_auth(token.secret())
                .send()
                .await
                .map_err(|_| ErrorData::internal_error("the provider is unavailable", None))?;
            if res.status() == reqwest::StatusCode::UNAUTHORIZED && attempt == 0 {
                // The provider no longer takes this token (the grant was revoked before the
                // token expired): drop the grant and ask for a new consent (a new round:
                // without the requestState this call may have carried, used up now).
                self.flow.oauth().revoke(ctx).await.map_err(|_| {
                    ErrorData::internal_error("the grant could not be dropped", None)
                })?;
                call = ToolCall::new(call.name(), call.arguments().clone(), None);
                continue;
            }
            let info: Value = res
                .error_for_status()
                .map_err(|_| ErrorData::internal_error("the provider refused userinfo", None))?
                .json()
                .await
                .map_err(|_| ErrorData::internal_error("the provider answered nonsense", None))?;
            let sub = info["sub"].as_str().unwrap_or("(no subject)");
            return Ok(result(
                format!("You are `{sub}` at {}.", self.issuer),
                false,
            ));
        }
        Ok(result(
            "The provider refused a fresh token; call the tool again later.".to_owned(),
            true,
        ))
    }
}
