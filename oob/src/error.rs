//! The manager's [`Error`] type.

use crate::id::PendingId;
use crate::provider::ProviderError;
use crate::spec::SpecError;
use crate::store::{CreateError, Finished, Scope, StoreError, TransitionError};

/// Why a [`Manager`](crate::Manager) operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No pending with this id (never created, cleared, or purged after its retention).
    #[error("no pending with id {0}")]
    NotFound(PendingId),
    /// The pending reached its deadline while open.
    #[error("pending {0} expired")]
    Expired(PendingId),
    /// The pending already finished, in the way given.
    #[error("pending {id} is already {how}")]
    Finished {
        /// The pending.
        id: PendingId,
        /// How it finished.
        how: Finished,
    },
    /// The pending belongs to another namespace than the expected one, whatever its state
    /// (see [`lifecycle::refusal`](crate::store::lifecycle::refusal)); an open one is left
    /// open.
    #[error("pending {0} belongs to another namespace")]
    NamespaceMismatch(PendingId),
    /// The namespace provider refused the caller.
    #[error("could not derive the caller's namespace")]
    Provider(#[from] ProviderError),
    /// The spec was refused.
    #[error("invalid spec")]
    Spec(#[from] SpecError),
    /// A capacity bound would be exceeded; nothing was created.
    #[error("too many open pendings in this {0}")]
    Capacity(Scope),
    /// The namespace created as many pendings as
    /// [`ManagerBuilder::max_creates_per_namespace`](crate::ManagerBuilder::max_creates_per_namespace)
    /// allows for now; nothing was created.
    #[error("too many pendings created in this namespace; one more in {} ms", retry_after.as_millis())]
    RateLimited {
        /// How long until a create of this namespace would pass.
        retry_after: std::time::Duration,
    },
    /// The store failed.
    #[error("store failure")]
    Store(#[from] StoreError),
    /// The store answered a transition of this pending with another record (another id,
    /// another namespace than the pending the call consumed, or another state), answered a
    /// read of it with another id's record, or answered the create of this pending (its new
    /// id) with a joined or declined pending of another namespace: a bug in a custom store
    /// (or, with an integrity key, a record not bound to its namespace). Nothing was handed
    /// out; after a transition the pending may be finished in the store.
    #[error("the store answered for pending {0} with a record that is not the one asked for")]
    StoreContract(PendingId),
    /// The pending was completed, but persisting its result failed (see
    /// [`Manager::complete_with`](crate::Manager::complete_with)).
    #[error("pending {id} completed, but persisting its result failed")]
    Persist {
        /// The completed pending.
        id: PendingId,
        /// Why persisting failed.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
}

impl Error {
    pub(crate) fn from_transition(id: PendingId, e: TransitionError) -> Self {
        match e {
            TransitionError::NotFound => Self::NotFound(id),
            TransitionError::Finished(Finished::Expired) => Self::Expired(id),
            TransitionError::Finished(how) => Self::Finished { id, how },
            TransitionError::NamespaceMismatch => Self::NamespaceMismatch(id),
            TransitionError::Store(e) => Self::Store(e),
        }
    }

    pub(crate) fn from_create(id: PendingId, e: CreateError) -> Self {
        match e {
            CreateError::Capacity(scope) => Self::Capacity(scope),
            // A random 122-bit id collided: report it as a store failure, never overwrite.
            CreateError::DuplicateId => Self::Store(StoreError::backend(DuplicateId(id))),
            CreateError::Store(e) => Self::Store(e),
        }
    }

    /// Whether the pending is gone or finished (an HTTP layer answers 404 or 410), as
    /// opposed to a failure of the service.
    #[must_use]
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            Self::NotFound(_)
                | Self::Expired(_)
                | Self::Finished { .. }
                | Self::NamespaceMismatch(_)
                | Self::Provider(_)
                | Self::Spec(_)
                | Self::Capacity(_)
                | Self::RateLimited { .. }
        )
    }
}

#[derive(Debug, thiserror::Error)]
#[error("pending id {0} already exists")]
struct DuplicateId(PendingId);
