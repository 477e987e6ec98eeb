//! Maintenance: clearing a namespace (for [`Manager::clear`] and the [`Operator`] handle),
//! purging finished pendings past their retention, and the sweeper that purges on a timer.

use std::time::Duration;

use super::{Manager, Operator, Sweeper};
use crate::error::Error;
use crate::payload::OobPayload;
use crate::store::{NamespaceScope, Store};
#[cfg(feature = "metrics")]
use crate::store::{Record, RecordState, StoreError};

#[cfg(feature = "metrics")]
use super::instrument::finished;
use super::instrument::observed;

impl<T, S, P> Manager<T, S, P>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    S: Store<T>,
    P: Send + Sync + 'static,
{
    pub(super) async fn clear_scope(&self, scope: NamespaceScope<'_>) -> Result<usize, Error> {
        // The open ones leave `oob_interactions_open` (counted just before the clear).
        #[cfg(feature = "metrics")]
        let open = observed(
            self.inner.store.name(),
            "list",
            self.inner.store.list_namespace(scope, self.now()),
        )
        .await?
        .len();
        let n = observed(
            self.inner.store.name(),
            "clear",
            self.inner.store.clear_namespace(scope),
        )
        .await?;
        self.inner
            .log
            .bulk("clear", T::KIND, Some(scope.namespace()), n);
        #[cfg(feature = "metrics")]
        crate::observe::removed_open(T::KIND, open.min(n));
        Ok(n)
    }

    /// The operator's handle: maintenance by a namespace named in text (a support tool that
    /// clears a user), which no caller-facing path needs. What it returns cannot complete a
    /// pending or write anything.
    #[must_use]
    pub fn operator(&self) -> Operator<'_, T, S, P> {
        Operator::new(self)
    }

    /// Forgets every pending whose retention window ended; returns how many.
    ///
    /// With the `metrics` feature it first counts, once each, the interactions this manager
    /// created whose deadline has passed and that the store reads as expired: an expiry is
    /// counted by the process that created the pending, at its first purge after the
    /// deadline, so run a [sweeper](Self::spawn_sweeper).
    pub async fn purge(&self) -> Result<usize, Error> {
        #[cfg(feature = "metrics")]
        self.count_expiries().await;
        if let Some(rate) = &self.inner.create_rate {
            rate.prune(self.now());
        }
        let n = observed(
            self.inner.store.name(),
            "purge",
            self.inner.store.purge(self.now()),
        )
        .await?;
        if n > 0 {
            self.inner.log.bulk("purge", T::KIND, None, n);
        }
        Ok(n)
    }

    /// Counts the watched interactions past their deadline that the store reads as expired.
    /// Best effort, and never in the purge's way: a record that does not decode is not
    /// counted, and the first other failure ends the counting (the store is likely down: the
    /// purge then reports it; the ids not read yet go uncounted).
    ///
    /// A record past its deadline that no read sees any more (zero retention, or a retention
    /// shorter than the sweeper's period) is read as it stood just before its deadline: if it
    /// was still open then, it expired (the purge after this count forgets it). Only one
    /// forgotten already, by another replica's purge, goes uncounted.
    #[cfg(feature = "metrics")]
    async fn count_expiries(&self) {
        let now = self.now();
        let store = &self.inner.store;
        for (id, deadline) in self.inner.expiries.take_due(now) {
            let read = match observed(store.name(), "get", store.get(id, now)).await {
                Ok(None) => {
                    let before =
                        crate::time::Timestamp::from_millis(deadline.as_millis().saturating_sub(1));
                    observed(store.name(), "get", store.get(id, before))
                        .await
                        .map(|r| {
                            r.filter(|r| r.state.is_open()).map(|r| Record {
                                state: RecordState::Expired { at: r.expires_at },
                                ..r
                            })
                        })
                }
                read => read,
            };
            match read {
                Ok(Some(record))
                    if record.id == id && matches!(record.state, RecordState::Expired { .. }) =>
                {
                    finished(T::KIND, &record);
                }
                Ok(_) | Err(StoreError::Decode(_)) => {}
                Err(_) => break,
            }
        }
    }

    /// Spawns a task on the current tokio runtime that [`purge`](Self::purge)s every
    /// `every`. It stops when the returned handle is dropped or [`Sweeper::stop`]ped.
    ///
    /// # Panics
    /// Outside a tokio runtime (like [`tokio::spawn`]).
    pub fn spawn_sweeper(&self, every: Duration) -> Sweeper {
        let manager = self.clone();
        Sweeper::spawn(every, move || {
            let manager = manager.clone();
            async move {
                // A failing store is retried at the next tick; the error is logged there.
                let _ = manager.purge().await;
            }
        })
    }
}
