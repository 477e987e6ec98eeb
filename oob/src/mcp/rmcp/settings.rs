//! [`ToolSettings`]: the settings of an [`OAuthTools`](super::OAuthTools)'s elicitation
//! glue, as plain values.

use std::sync::Arc;
use std::time::Duration;

use super::tools::{OobTools, UrlAsk};
use crate::mcp::StateGuard;
use crate::mcp::guard::DynStateGuard;

/// The settings of the elicitation glue inside an [`OAuthTools`](super::OAuthTools), as
/// [`OAuthTools::configure`](super::OAuthTools::configure) hands them over: the values the
/// setters of [`OobTools`] take, and no glue. They are applied to the glue the flow built
/// over its own manager and vault, so no closure can hand back glue over another manager or
/// vault (not even another flow's, from a `configure` inside this one's).
pub struct ToolSettings {
    guard: Option<Arc<dyn DynStateGuard>>,
    notify_within: Duration,
    accept_wait: Duration,
    ask_within: Duration,
    url_ask: UrlAsk,
}

impl std::fmt::Debug for ToolSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolSettings")
            .field("own_guard", &self.guard.is_some())
            .field("notify_within", &self.notify_within)
            .field("accept_wait", &self.accept_wait)
            .field("ask_within", &self.ask_within)
            .field("url_ask", &self.url_ask)
            .finish()
    }
}

impl ToolSettings {
    /// The settings `tools` has now (its guard kept unless replaced).
    pub(super) fn of<T, S, P, V>(tools: &OobTools<T, S, P, V>) -> Self {
        Self {
            guard: None,
            notify_within: tools.notify_within,
            accept_wait: tools.accept_wait,
            ask_within: tools.ask_within,
            url_ask: tools.url_ask,
        }
    }

    /// `tools` with these settings.
    pub(super) fn apply<T, S, P, V>(self, mut tools: OobTools<T, S, P, V>) -> OobTools<T, S, P, V> {
        if let Some(guard) = self.guard {
            tools.guard = guard;
        }
        tools.notify_within = self.notify_within;
        tools.accept_wait = self.accept_wait;
        tools.ask_within = self.ask_within;
        tools.url_ask = self.url_ask;
        tools
    }

    /// As [`OobTools::state_guard`]: with several replicas, a guard they share.
    #[must_use]
    pub fn state_guard(mut self, guard: impl StateGuard) -> Self {
        self.guard = Some(Arc::new(guard));
        self
    }

    /// As [`OobTools::notify_within`].
    #[must_use]
    pub fn notify_within(mut self, within: Duration) -> Self {
        self.notify_within = within;
        self
    }

    /// As [`OobTools::accept_wait`].
    #[must_use]
    pub fn accept_wait(mut self, wait: Duration) -> Self {
        self.accept_wait = wait;
        self
    }

    /// As [`OobTools::ask_within`].
    #[must_use]
    pub fn ask_within(mut self, within: Duration) -> Self {
        self.ask_within = within;
        self
    }

    /// As [`OobTools::url_ask`].
    #[must_use]
    pub fn url_ask(mut self, ask: UrlAsk) -> Self {
        self.url_ask = ask;
        self
    }
}
