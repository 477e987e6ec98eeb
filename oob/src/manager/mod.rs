//! [`Manager`]: creates pendings under the caller's namespace and moves them through their
//! states, atomically, in its store.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::id::PendingId;
use crate::observe::LogKey;
use crate::payload::OobPayload;
use crate::pending::{AnyPending, CallbackTemplate};
use crate::store::{Limits, Record, Store};
use crate::time::{Clock, Timestamp};

pub mod builder;
mod cancel;
mod complete;
mod create;
mod instrument;
mod maintenance;
mod operator;
mod read;
mod records;
mod settling;
mod sweeper;
mod wait;

pub use builder::{CallbackBase, CallbackBaseError, Given, ManagerBuilder, Missing};
pub use create::Joined;
pub use operator::Operator;
pub use sweeper::Sweeper;
pub use wait::Outcome;

/// Creates pending interactions under the caller's namespace and moves them through their
/// states, atomically, in its store `S`. `P` derives namespaces from callers. Cloning is
/// cheap and shares everything.
///
/// ```
/// use oob::{CallbackBase, Manager, OobPayload, Spec};
/// use oob::provider::FixedNamespace;
/// use oob::store::MemoryStore;
/// use oob::vault::{MemoryVault, Vault};
///
/// #[derive(Clone, OobPayload)]
/// #[oob(kind = "api_key", route = "/oob/key/{id}")]
/// struct ApiKey { service: String }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let manager = Manager::builder()
///     .store(MemoryStore::new())
///     .provider(FixedNamespace::new("alice".parse()?))
///     .callback_base(CallbackBase::parse("https://mcp.example.com")?)
///     .build();
///
/// // A tool call needs a key: create a pending and hand the user its URL.
/// let open = manager.create(&(), Spec::new(ApiKey { service: "github".into() })).await?;
/// assert!(open.callback_url().starts_with("https://mcp.example.com/oob/key/"));
///
/// // The callback handler loads it by id and completes it, exactly once. Only the call that
/// // wins the completion gets the token that writes under the pending's namespace.
/// let vault = MemoryVault::new();
/// let open = manager.open(open.id()).await?;
/// let writer = vault.clone();
/// let (done, ()) = manager
///     .complete_with(open, async move |token| writer.put(&token, "github", "s3cret".to_string()).await)
///     .await?;
/// assert!(done.completed_at() >= done.created_at());
///
/// // The tool call reads it back with the capability of its own verified caller.
/// let caller = manager.caller(&())?;
/// assert_eq!(vault.get(&caller, "github").await?.as_deref(), Some("s3cret"));
/// # Ok(()) }
/// ```
pub struct Manager<T, S, P> {
    inner: Arc<ManagerInner<T, S, P>>,
}

struct ManagerInner<T, S, P> {
    store: S,
    provider: P,
    callback: Arc<CallbackTemplate>,
    clock: Arc<dyn Clock>,
    default_ttl: Duration,
    limits: Limits,
    decline_cooldown: Duration,
    log: LogKey,
    #[cfg(feature = "integrity")]
    integrity: Option<crate::integrity::IntegrityKey>,
    #[cfg(feature = "metrics")]
    expiries: instrument::ExpiryWatch,
    settling: settling::Settling,
    _payload: PhantomData<fn() -> T>,
}

impl<T, S, P> Clone for Manager<T, S, P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<T, S, P> std::fmt::Debug for Manager<T, S, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Manager")
            .field("default_ttl", &self.inner.default_ttl)
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl<T, S, P> Manager<T, S, P>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    S: Store<T>,
    P: Send + Sync + 'static,
{
    fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    fn any(&self, record: Record<T>) -> AnyPending<T> {
        AnyPending::from_record(record, self.inner.callback.clone())
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &S {
        &self.inner.store
    }

    /// The namespace provider.
    #[must_use]
    pub fn provider(&self) -> &P {
        &self.inner.provider
    }

    /// The callback URL the pending `id` would have.
    #[must_use]
    pub fn callback_url(&self, id: PendingId) -> String {
        self.inner.callback.render(id)
    }
}
