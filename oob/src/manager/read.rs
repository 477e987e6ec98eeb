//! Reading pendings: by id ([`Manager::get`], [`Manager::open`]) and the open ones of a
//! namespace, for [`Manager::list`].

use super::Manager;
use crate::capability::NamespaceToken;
use crate::error::Error;
use crate::id::PendingId;
use crate::payload::OobPayload;
use crate::pending::{AnyPending, Pending};
use crate::state::Open;
use crate::store::{Store, StoreError};

use super::instrument::observed;

impl<T, S, P> Manager<T, S, P>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    S: Store<T>,
    P: Send + Sync + 'static,
{
    /// The pending with this id, in whatever state the store holds it.
    pub async fn get(&self, id: PendingId) -> Result<AnyPending<T>, Error> {
        let record = observed(
            self.inner.store.name(),
            "get",
            self.inner.store.get(id, self.now()),
        )
        .await?;
        let record = record.ok_or(Error::NotFound(id))?;
        self.read_as(&record, id)?;
        Ok(self.any(record))
    }

    /// The open pending with this id; [`Error::NotFound`], [`Error::Expired`] or
    /// [`Error::Finished`] otherwise. It checks no owner: anyone holding the id gets the
    /// pending, and its completion's persist step gets the owner's namespace. A callback page
    /// a browser user opens uses the `Interaction` extractor (feature `axum`), which checks
    /// that the signed-in user owns the pending (or compares [`Pending::namespace`] with
    /// the browser user's before completing); `open` alone is for completions that are
    /// nobody's browser step (a device-code poller, a provider's webhook).
    pub async fn open(&self, id: PendingId) -> Result<Pending<T, Open>, Error> {
        let record = observed(
            self.inner.store.name(),
            "get",
            self.inner.store.get(id, self.now()),
        )
        .await?;
        let record = record.ok_or(Error::NotFound(id))?;
        self.read_as(&record, id)?;
        self.open_pending(record)
    }

    /// Before a transition by id alone, whose payload this manager has not read: on a store
    /// that does not check it inside the transition
    /// ([`Store::decodes_before_writing`]), reads the record, so that a payload this
    /// version of `T` cannot decode answers [`StoreError::Decode`] and finishes nothing
    /// (such a store decodes only what its transition returns: the pending would be
    /// finished with nobody winning it). Any other answer leaves the transition to decide.
    pub(super) async fn check_decodes(&self, id: PendingId) -> Result<(), Error> {
        if self.inner.store.decodes_before_writing() {
            return Ok(());
        }
        let read = observed(
            self.inner.store.name(),
            "get",
            self.inner.store.get(id, self.now()),
        )
        .await;
        match read {
            Err(e @ StoreError::Decode(_)) => Err(e.into()),
            _ => Ok(()),
        }
    }

    /// The open pendings of `token`'s namespace.
    pub(super) async fn list_token(
        &self,
        token: &NamespaceToken<'_>,
    ) -> Result<Vec<Pending<T, Open>>, Error> {
        let records = observed(
            self.inner.store.name(),
            "list",
            self.inner.store.list_namespace(token.scope(), self.now()),
        )
        .await?;
        let mut open = Vec::with_capacity(records.len());
        for r in records {
            if r.namespace != *token.namespace() {
                continue;
            }
            self.bound(&r)?;
            if let AnyPending::Open(p) = self.any(r) {
                open.push(p);
            }
        }
        Ok(open)
    }
}
