//! [`Manager::refused`]: a store's refusal of a transition that expects a namespace, held
//! to [`lifecycle::refusal`]'s order whatever the store.
//!
//! The built-in stores decide a refusal by that rule
//! ([`Store::follows_refusal_order`]): a record of another namespace is a mismatch
//! whatever its state, and their answer is passed on as it is. A custom store may answer
//! how the record ended first; for one that does not say it follows the rule, the manager
//! passes that on to a caller that expects a namespace only after one read shows the
//! record is in it. It reads for a mismatch too, so a caller does not tell an open record
//! from a finished one by how long the answer takes.

use super::Manager;
use super::instrument::observed;
use crate::error::Error;
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::payload::OobPayload;
#[cfg(doc)]
use crate::store::lifecycle;
use crate::store::{Store, TransitionError};

impl<T, S, P> Manager<T, S, P>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    S: Store<T>,
    P: Send + Sync + 'static,
{
    /// The error for the store's refusal `e` of a transition of `id` expecting `expect`
    /// (see the module docs).
    pub(super) async fn refused(
        &self,
        id: PendingId,
        e: TransitionError,
        expect: Option<&Namespace>,
    ) -> Error {
        let Some(ns) = expect else {
            return Error::from_transition(id, e);
        };
        let checked = matches!(
            e,
            TransitionError::Finished(_) | TransitionError::NamespaceMismatch
        );
        if !checked || self.inner.store.follows_refusal_order() {
            return Error::from_transition(id, e);
        }
        let read = observed(
            self.inner.store.name(),
            "get",
            self.inner.store.get(id, self.now()),
        )
        .await;
        match (e, read) {
            (TransitionError::NamespaceMismatch, _) => Error::NamespaceMismatch(id),
            // Another record than the one asked for (or one not bound to its namespace):
            // nothing it says is passed on.
            (_, Ok(Some(r))) if self.read_as(&r, id).is_err() => Error::StoreContract(id),
            (e, Ok(Some(r))) if &r.namespace == ns => Error::from_transition(id, e),
            (_, Ok(Some(_))) => Error::NamespaceMismatch(id),
            (_, Ok(None)) => Error::NotFound(id),
            // Whose it is cannot be told: how it ended is not told either.
            (_, Err(read)) => Error::Store(read),
        }
    }
}
