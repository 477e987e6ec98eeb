//! [`NamespaceScope`]: the namespace a namespace-scoped store operation works on.

use std::fmt;

use crate::capability::NamespaceToken;
use crate::namespace::Namespace;

/// The namespace that [`Store::list_namespace`](super::Store::list_namespace) and
/// [`Store::clear_namespace`](super::Store::clear_namespace) work on.
///
/// It comes from a verified caller's [`NamespaceToken`] ([`NamespaceToken::scope`]), or from
/// the manager itself for its [`Operator`](crate::manager::Operator)'s clear. It is not a
/// [`Capability`](crate::Capability): a store handed one (any store, a custom one included)
/// cannot open a vault with it, so the operator's clear of a namespace named in text opens
/// nothing but that clear. It cannot be built from a [`Namespace`] or a string outside the
/// manager, and lives no longer than the token or namespace it borrows. A vault refuses it:
///
/// ```compile_fail
/// # use oob::vault::{MemoryVault, Vault};
/// # async fn demo(vault: MemoryVault<String>, scope: oob::store::NamespaceScope<'_>) {
/// let _ = vault.get(&scope, "github").await; // a scope is not a vault capability
/// # }
/// ```
#[derive(Clone, Copy)]
pub struct NamespaceScope<'a> {
    namespace: &'a Namespace,
}

impl<'a> NamespaceScope<'a> {
    /// A scope the manager chose (crate-private: see the type's docs).
    pub(crate) fn new(namespace: &'a Namespace) -> Self {
        Self { namespace }
    }

    /// The namespace the operation works on (what a store keys by).
    #[must_use]
    pub fn namespace(&self) -> &'a Namespace {
        self.namespace
    }
}

impl fmt::Debug for NamespaceScope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A namespace may identify a user: never printed.
        f.debug_struct("NamespaceScope").finish_non_exhaustive()
    }
}

impl NamespaceToken<'_> {
    /// The scope of a store's namespace-scoped operations on this token's namespace (the
    /// caller's own), e.g. `store.list_namespace(token.scope(), now)`.
    #[must_use]
    pub fn scope(&self) -> NamespaceScope<'_> {
        NamespaceScope::new(self.namespace())
    }
}
