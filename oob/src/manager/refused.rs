//! [`Manager::refused`]: a store's refusal of a transition that expects a namespace, held
//! to [`lifecycle::refusal`]'s order whatever the store.
//!
//! The built-in stores decide a refusal by that rule: a record of another namespace is a
//! mismatch whatever its state. A custom [`Store`] may answer how the record ended first;
//! the manager does not pass that on to a caller that expects a namespace until one read
//! shows the record is in it. Only refusals that say how a record ended, to a caller that
//! named a namespace, cost that read.

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
        let (TransitionError::Finished(_), Some(ns)) = (&e, expect) else {
            return Error::from_transition(id, e);
        };
        let read = observed(
            self.inner.store.name(),
            "get",
            self.inner.store.get(id, self.now()),
        )
        .await;
        match read {
            Ok(Some(r)) if &r.namespace == ns => Error::from_transition(id, e),
            Ok(Some(_)) => Error::NamespaceMismatch(id),
            Ok(None) => Error::NotFound(id),
            // Whose it is cannot be told: how it ended is not told either.
            Err(read) => Error::Store(read),
        }
    }
}
