//! From store records to typed pendings: the integrity binding of a record to its
//! namespace and kind, and the checks that a store answered a transition with the record
//! and state asked for.

use super::Manager;
use crate::error::Error;
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::payload::OobPayload;
use crate::pending::Pending;
use crate::state::{Cancelled, Completed, Open};
use crate::store::{Finished, Record, RecordState, Store};

impl<T, S, P> Manager<T, S, P>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    S: Store<T>,
    P: Send + Sync + 'static,
{
    /// Checks that a record the store returned is bound to its namespace and kind, when the
    /// manager has an [integrity key](ManagerBuilder::integrity_key); every record becomes a
    /// `Pending` only after this.
    pub(super) fn bound(&self, record: &Record<T>) -> Result<(), Error> {
        #[cfg(feature = "integrity")]
        if let Some(key) = &self.inner.integrity
            && !key.verify(record.id, T::KIND, &record.namespace)
        {
            return Err(Error::StoreContract(record.id));
        }
        let _ = record;
        Ok(())
    }

    /// Checks that the record a store read for `id` is that record (a custom store that
    /// answers a read with another id's record hands out nothing: the caller would get,
    /// complete or wait on another pending, maybe another namespace's), then [`bound`]
    /// (Self::bound).
    pub(super) fn read_as(&self, record: &Record<T>, id: PendingId) -> Result<(), Error> {
        if record.id != id {
            return Err(Error::StoreContract(id));
        }
        self.bound(record)
    }

    /// The record as an open pending, or why it is not open.
    pub(super) fn open_pending(&self, record: Record<T>) -> Result<Pending<T, Open>, Error> {
        self.bound(&record)?;
        match record.state {
            RecordState::Open => Ok(crate::pending::from_record(
                record,
                Open::new(),
                self.inner.callback.clone(),
            )),
            RecordState::Expired { .. } => Err(Error::Expired(record.id)),
            state => Err(Error::Finished {
                id: record.id,
                how: state.finished().unwrap_or(Finished::Expired),
            }),
        }
    }

    /// The record of a completed transition as a completed pending.
    pub(super) fn completed_pending(
        &self,
        record: Record<T>,
    ) -> Result<Pending<T, Completed>, Error> {
        self.bound(&record)?;
        match record.state {
            RecordState::Completed { at } => Ok(crate::pending::from_record(
                record,
                Completed { at },
                self.inner.callback.clone(),
            )),
            _ => Err(wrong_state(record.id)),
        }
    }

    /// The record of a cancel transition as a cancelled pending.
    pub(super) fn cancelled_pending(
        &self,
        record: Record<T>,
    ) -> Result<Pending<T, Cancelled>, Error> {
        self.bound(&record)?;
        match record.state {
            RecordState::Cancelled { at, reason } => Ok(crate::pending::from_record(
                record,
                Cancelled { at, reason },
                self.inner.callback.clone(),
            )),
            _ => Err(wrong_state(record.id)),
        }
    }

    /// Checks that the record a store answered a transition with is the one asked for: its
    /// id, and the namespace of the pending the call consumed (when it consumed one). A
    /// custom store that breaks this fails the call instead of handing out a capability for
    /// another namespace.
    pub(super) fn check_answer(
        &self,
        record: &Record<T>,
        id: PendingId,
        namespace: Option<&Namespace>,
    ) -> Result<(), Error> {
        if record.id != id || namespace.is_some_and(|ns| *ns != record.namespace) {
            return Err(Error::StoreContract(id));
        }
        Ok(())
    }
}

/// A store answered a transition with a record in another state than the transition's.
fn wrong_state(id: PendingId) -> Error {
    Error::StoreContract(id)
}
