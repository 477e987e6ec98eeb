//! [`Operator`]: maintenance by a namespace named in text, kept apart from the caller paths.

use super::Manager;
use crate::error::Error;
use crate::namespace::Namespace;
use crate::payload::OobPayload;
use crate::store::{NamespaceScope, Store};

/// The operator's handle on a [`Manager`], from [`Manager::operator`]: maintenance of a
/// namespace named by an operator (a support tool that clears a departed user), as opposed
/// to the verified caller every other selection by namespace goes through.
///
/// It is a separate, explicitly named handle so that no caller-facing path reaches it by
/// accident, and what it returns (counts) can neither complete a pending nor write.
pub struct Operator<'m, T, S, P> {
    manager: &'m Manager<T, S, P>,
}

impl<T, S, P> std::fmt::Debug for Operator<'_, T, S, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operator").finish_non_exhaustive()
    }
}

impl<'m, T, S, P> Operator<'m, T, S, P>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    S: Store<T>,
    P: Send + Sync + 'static,
{
    pub(super) fn new(manager: &'m Manager<T, S, P>) -> Self {
        Self { manager }
    }

    /// Removes every pending (open or finished) of `namespace`; returns how many. Their
    /// waiters end with [`Outcome::Removed`](crate::Outcome::Removed).
    pub async fn clear_namespace(&self, namespace: &Namespace) -> Result<usize, Error> {
        // A store scope, not a capability: whatever store receives it cannot open a vault.
        self.manager
            .clear_scope(NamespaceScope::new(namespace))
            .await
    }
}
