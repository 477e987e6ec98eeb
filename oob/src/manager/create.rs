//! Creating pendings: the record [`Manager::create`] and [`Manager::create_or_join`] store
//! (its id, namespace and times), the insert with or without joining, and what it did
//! ([`Joined`]).

use std::sync::Arc;
use std::time::Duration;

use super::Manager;
use crate::error::Error;
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::observe::Event;
use crate::payload::OobPayload;
use crate::pending::Pending;
use crate::spec::{Expiry, Spec};
use crate::state::{Cancelled, Open};
use crate::store::{Body, Created, Dedup, NewRecord, Record, RecordState, Store};
use crate::time::Timestamp;

use super::instrument::observed;

/// What [`Manager::create_or_join`] did. `Debug` needs no `T: Debug` (and prints no payload).
#[non_exhaustive]
pub enum Joined<T> {
    /// No open pending had the same key: this one was created.
    Created(Pending<T, Open>),
    /// An open pending with the same namespace, kind, alias and resource exists: this is it.
    Joined(Pending<T, Open>),
    /// The user declined a pending with the same key within the decline cooldown.
    Declined(Pending<T, Cancelled>),
}

impl<T> std::fmt::Debug for Joined<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Created(p) => f.debug_tuple("Created").field(p).finish(),
            Self::Joined(p) => f.debug_tuple("Joined").field(p).finish(),
            Self::Declined(p) => f.debug_tuple("Declined").field(p).finish(),
        }
    }
}

impl<T> Joined<T> {
    /// The open pending, created or joined; `None` for a decline in cooldown.
    #[must_use]
    pub fn into_open(self) -> Option<Pending<T, Open>> {
        match self {
            Self::Created(p) | Self::Joined(p) => Some(p),
            Self::Declined(_) => None,
        }
    }

    /// Whether an existing pending was joined.
    #[must_use]
    pub fn is_joined(&self) -> bool {
        matches!(self, Self::Joined(_))
    }
}

impl<T, S, P> Manager<T, S, P>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    S: Store<T>,
    P: Send + Sync + 'static,
{
    /// A fresh id: random, or bound to its namespace under the integrity key.
    fn mint(&self, namespace: &Namespace) -> PendingId {
        #[cfg(feature = "integrity")]
        if let Some(key) = &self.inner.integrity {
            return key.mint(T::KIND, namespace);
        }
        let _ = namespace;
        PendingId::random()
    }

    pub(super) fn record(
        &self,
        namespace: Namespace,
        spec: Spec<T>,
    ) -> Result<NewRecord<T>, Error> {
        spec.validate()?;
        let now = self.now();
        let expires_at = match spec.expiry {
            None => now.saturating_add(self.inner.default_ttl),
            Some(Expiry::Ttl(ttl)) => now.saturating_add(ttl),
            Some(Expiry::Deadline(at)) => Timestamp::from_system_time(at),
        }
        .min(Timestamp::LATEST_DEADLINE);
        if expires_at <= now {
            return Err(crate::spec::SpecError::AlreadyExpired.into());
        }
        // Last, so a refused spec spends nothing of the namespace's rate.
        if let Some(rate) = &self.inner.create_rate {
            rate.take(&namespace, now)
                .map_err(|retry_after| Error::RateLimited { retry_after })?;
        }
        Ok(NewRecord::new(Record {
            id: self.mint(&namespace),
            namespace,
            created_at: now,
            expires_at,
            state: RecordState::Open,
            body: Arc::new(Body::with_labels(
                spec.data,
                [spec.alias, spec.resource, spec.elicit_id],
            )),
        }))
    }

    /// Stores a prepared record, then maps what happened with `then`. One `async fn` taking
    /// the record as its argument, so the returned future holds the record once (an outer
    /// `async` block would hold it a second time beside this future).
    pub(super) async fn insert<R>(
        &self,
        record: Result<NewRecord<T>, Error>,
        dedup: Dedup,
        then: fn(Joined<T>) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let created = match &record {
            Ok(r) => observed(
                self.inner.store.name(),
                "create",
                self.inner
                    .store
                    .create(r, self.inner.limits, dedup, r.record().created_at),
            )
            .await
            .map_err(|e| Error::from_create(r.record().id, e)),
            // Nothing to store: `record?` below returns why.
            Err(_) => Ok(Created::Inserted),
        };
        let record = record?.into_record();
        let log = &self.inner.log;
        let joined = match created? {
            Created::Inserted => {
                log.event("create", T::KIND, record.id, &record.namespace);
                crate::observe::interaction(T::KIND, Event::Created, Duration::ZERO);
                #[cfg(feature = "metrics")]
                self.inner.expiries.watch(record.id, record.expires_at);
                self.open_pending(record).map(Joined::Created)
            }
            // A store's dedup answer must be the caller's own: a join hands out the
            // pending (and later its completion) to this caller.
            Created::Joined(existing) | Created::Declined(existing)
                if existing.namespace != record.namespace =>
            {
                Err(Error::StoreContract(record.id))
            }
            Created::Joined(existing) => {
                log.event("join", T::KIND, existing.id, &existing.namespace);
                crate::observe::interaction(T::KIND, Event::Joined, Duration::ZERO);
                self.open_pending(existing).map(Joined::Joined)
            }
            Created::Declined(declined) => {
                log.event("cooldown", T::KIND, declined.id, &declined.namespace);
                self.cancelled_pending(declined).map(Joined::Declined)
            }
        };
        joined.and_then(then)
    }
}
