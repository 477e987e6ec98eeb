//! [`ToolSettings`]: the settings of an [`OAuthTools`](super::OAuthTools)'s elicitation
//! glue, and nothing else.

use std::time::Duration;

use rmcp::service::{RequestContext, RoleServer};

use super::tools::{OobTools, UrlAsk};
use crate::mcp::StateGuard;
use crate::payload::OobPayload;
use crate::provider::NamespaceProvider;
use crate::store::Store;

/// The settings of the elicitation glue inside an [`OAuthTools`](super::OAuthTools), as
/// [`OAuthTools::configure`](super::OAuthTools::configure) hands them over: the setters of
/// [`OobTools`], on the glue the flow built over its own manager and vault. It has no public
/// constructor, so the glue cannot be swapped for one over another manager or vault.
pub struct ToolSettings<T, S, P, V>(pub(super) OobTools<T, S, P, V>);

impl<T, S, P, V> std::fmt::Debug for ToolSettings<T, S, P, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ToolSettings").field(&self.0).finish()
    }
}

impl<T, S, P, V> ToolSettings<T, S, P, V>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    S: Store<T>,
    P: NamespaceProvider<RequestContext<RoleServer>>,
{
    /// As [`OobTools::state_guard`]: with several replicas, a guard they share.
    #[must_use]
    pub fn state_guard(self, guard: impl StateGuard) -> Self {
        Self(self.0.state_guard(guard))
    }

    /// As [`OobTools::notify_within`].
    #[must_use]
    pub fn notify_within(self, within: Duration) -> Self {
        Self(self.0.notify_within(within))
    }

    /// As [`OobTools::accept_wait`].
    #[must_use]
    pub fn accept_wait(self, wait: Duration) -> Self {
        Self(self.0.accept_wait(wait))
    }

    /// As [`OobTools::ask_within`].
    #[must_use]
    pub fn ask_within(self, within: Duration) -> Self {
        Self(self.0.ask_within(within))
    }

    /// As [`OobTools::url_ask`].
    #[must_use]
    pub fn url_ask(self, ask: UrlAsk) -> Self {
        Self(self.0.url_ask(ask))
    }
}
