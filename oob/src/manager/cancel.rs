//! Cancelling pendings: the transition behind [`Manager::cancel`] (on the service's behalf),
//! [`Manager::decline`] (the user declined) and [`Manager::cancel_id`].

use super::Manager;
use crate::error::Error;
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::payload::OobPayload;
use crate::pending::Pending;
use crate::state::{CancelReason, Cancelled};
use crate::store::Store;

use super::instrument::{finished, observed};

impl<T, S, P> Manager<T, S, P>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    S: Store<T>,
    P: Send + Sync + 'static,
{
    pub(super) async fn cancel_inner(
        &self,
        id: PendingId,
        reason: CancelReason,
        consumed: Option<Namespace>,
        expect: Option<&Namespace>,
    ) -> Result<Pending<T, Cancelled>, Error> {
        if consumed.is_none() {
            self.check_decodes(id).await?;
        }
        let answer = observed(
            self.inner.store.name(),
            "cancel",
            self.inner.store.cancel(id, reason, expect, self.now()),
        )
        .await;
        let record = match answer {
            Ok(record) => record,
            Err(e) => return Err(self.refused(id, e, expect).await),
        };
        self.check_answer(&record, id, consumed.as_ref().or(expect))?;
        let action = match reason {
            CancelReason::Cancelled => "cancel",
            CancelReason::Declined => "decline",
        };
        self.inner.log.event(action, T::KIND, id, &record.namespace);
        finished(T::KIND, &record);
        #[cfg(feature = "metrics")]
        self.inner.expiries.forget(id);
        self.cancelled_pending(record)
    }

    /// Cancels or declines the open pending with this id, if it belongs to `expected` when
    /// given.
    pub async fn cancel_id(
        &self,
        id: PendingId,
        reason: CancelReason,
        expected: Option<&Namespace>,
    ) -> Result<Pending<T, Cancelled>, Error> {
        self.cancel_inner(id, reason, None, expected).await
    }
}
