//! [`NamespaceToken`]: the namespace capability, and [`Capability`], what vaults accept.

use std::fmt;
use std::marker::PhantomData;

use crate::namespace::Namespace;

/// A namespace capability: what namespaced persistence ([`Vault`](crate::vault::Vault))
/// accepts, and the only thing it accepts (namespace-scoped store operations take the
/// [`NamespaceScope`](crate::store::NamespaceScope) a token gives, which opens no vault).
///
/// It comes from exactly two places, and cannot be built, cloned or parsed anywhere else:
///
/// 1. **The winning completion.** [`Manager::complete_with`](crate::Manager::complete_with)
///    hands one to its persist step, for the namespace of the pending that call completed.
///    Only the single call that won the store's atomic transition gets it; reading a
///    finished pending back (`get`, `wait`, joins, the HTTP extractor) never yields one.
///    The persist step is `'static`, so it cannot capture another completion's token.
/// 2. **The verified caller.** [`Manager::caller`](crate::Manager::caller) applies the
///    manager's [`NamespaceProvider`](crate::NamespaceProvider) to the live context of a
///    request (a tool call, an authenticated HTTP request), so a tool can read, refresh and
///    delete its own user's credentials. The token borrows that context and cannot outlive
///    it.
///
/// A [`Namespace`] value (parsed from text, kept as a map key, displayed) is never itself a
/// capability. The provider and the contexts it reads are the root of trust: building a
/// [`VerifiedSubject`](crate::provider::VerifiedSubject) asserts that the request was
/// authenticated as that user, so do it only in your authentication layer. The same holds
/// for building a manager: one with a [`FixedNamespace`](crate::provider::FixedNamespace)
/// provider (or any provider of yours) mints tokens for the namespace it names, and vaults
/// accept a token from any manager. So code that may build managers or providers is
/// trusted like your authentication layer (keep `FixedNamespace` to single-user servers).
/// What the types rule out is ordinary code *misdirecting* a token it holds. Limits of
/// that, known and not yet closed by a type: a caller token borrows its manager and its
/// context, so one from a `static` manager and a `'static` context (`&()` for
/// `FixedNamespace`, or a leaked one) is `'static` and can be captured by another
/// completion's persist step. A token cannot leave the persist step it was handed to:
///
/// ```compile_fail
/// # use oob::{Manager, Pending, NamespaceToken, state::Open};
/// # async fn demo<T: oob::OobPayload + Clone + Send + Sync + 'static, S: oob::Store<T>, P: Send + Sync + 'static>(
/// #     m: Manager<T, S, P>, open: Pending<T, Open>) {
/// let mut kept: Option<NamespaceToken<'_>> = None;
/// m.complete_with(open, async |token| { kept = Some(token); Ok::<_, std::io::Error>(()) }).await;
/// # }
/// ```
pub struct NamespaceToken<'a> {
    namespace: Namespace,
    /// Invariant in `'a`: the token lives no longer than what it was derived from.
    _scope: PhantomData<fn(&'a ()) -> &'a ()>,
}

impl NamespaceToken<'_> {
    /// The capability of a winning completion, or of a verified caller (see the type's
    /// docs); crate-private so that nothing outside the manager mints one.
    pub(crate) fn new(namespace: Namespace) -> Self {
        Self {
            namespace,
            _scope: PhantomData,
        }
    }

    /// The namespace this token opens (what a store or vault backend keys by).
    #[must_use]
    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }
}

impl fmt::Debug for NamespaceToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamespaceToken").finish_non_exhaustive()
    }
}

mod sealed {
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a namespace capability",
        label = "a vault opens a namespace only with a `NamespaceToken`",
        note = "write what a completion obtained inside its persist step: `manager.complete_with(open, async move |token| vault.put(&token, key, value).await)`",
        note = "read, refresh or delete the caller's own entries with the caller's token: `let token = manager.caller(&cx)?; vault.get(&token, key)`"
    )]
    pub trait Sealed {}
    impl Sealed for super::NamespaceToken<'_> {}
}

/// What a [`Vault`](crate::vault::Vault) accepts to open a namespace: a [`NamespaceToken`],
/// and nothing else (sealed). A pending, a [`Namespace`] or a string is refused at compile
/// time with a note that names the two ways to get a token.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a namespace capability",
    label = "a vault opens a namespace only with a `NamespaceToken`",
    note = "write what a completion obtained inside its persist step: `manager.complete_with(open, async move |token| vault.put(&token, key, value).await)`",
    note = "read, refresh or delete the caller's own entries with the caller's token: `let token = manager.caller(&cx)?; vault.get(&token, key)`"
)]
pub trait Capability: sealed::Sealed + Sync {
    /// The namespace this capability opens.
    fn namespace(&self) -> &Namespace;
}

impl Capability for NamespaceToken<'_> {
    fn namespace(&self) -> &Namespace {
        &self.namespace
    }
}
