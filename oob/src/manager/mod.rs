//! [`Manager`]: creates pendings under the caller's namespace and moves them through their
//! states, atomically, in its store.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::capability::NamespaceToken;
use crate::error::Error;
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::observe::LogKey;
use crate::payload::OobPayload;
use crate::pending::{AnyPending, CallbackTemplate, Pending};
use crate::provider::NamespaceProvider;
use crate::spec::Spec;
use crate::state::{CancelReason, Cancelled, Completed, Open};
use crate::store::{Dedup, Limits, Record, Store, Wake};
use crate::time::{Clock, Timestamp};

pub mod builder;
mod callback_base;
mod cancel;
mod complete;
mod create;
mod instrument;
mod maintenance;
mod operator;
mod rate;
mod read;
mod records;
mod refused;
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
/// // Whatever completes it loads it by id and completes it, exactly once. Only the call that
/// // wins the completion gets the token that writes under the pending's namespace. (`open`
/// // checks no owner: a page a browser user opens uses the `Interaction` extractor, feature
/// // `axum`, which also checks that the signed-in user owns the pending.)
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
    create_rate: Option<rate::CreateRate>,
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

// The methods whose bounds and typestates carry the namespace contract (a namespace only from
// the provider, a transition only from the right state, a persist step general over its
// token) stay in this impl, in the module that defines `Manager`: rustc names a method of an
// impl block in another module by that module's path (`manager::create::<impl Manager<..>>`)
// in the errors that enforce the contract (ui-tests). Their work is done in the concept files.
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

    /// The caller's namespace, as the provider derives it from `cx`.
    pub fn namespace_of<C: ?Sized>(&self, cx: &C) -> Result<Namespace, Error>
    where
        P: NamespaceProvider<C>,
    {
        Ok(self.inner.provider.namespace(cx)?)
    }

    /// The namespace capability of the verified caller of `cx`: the manager's
    /// [`NamespaceProvider`] applied to the live context of a request. What a tool passes to
    /// a [`Vault`](crate::vault::Vault) to read, refresh or delete its own user's
    /// credentials. It borrows `cx` and the manager, so it lives no longer than the request
    /// it came from (and a persist step, which is `'static`, cannot capture one unless both
    /// the context and the manager are `'static`).
    ///
    /// ```
    /// # use oob::{CallbackBase, Manager, OobPayload};
    /// # use oob::provider::{FromVerifiedSubject, VerifiedSubject};
    /// # use oob::store::MemoryStore;
    /// # use oob::vault::{MemoryVault, Vault};
    /// # #[derive(Clone, OobPayload)] #[oob(kind = "k", route = "/cb/{id}")] struct Key;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::<Key, _, _>::builder().store(MemoryStore::new())
    /// #     .provider(FromVerifiedSubject).callback_base(CallbackBase::parse("https://ex.com")?).build();
    /// let vault = MemoryVault::<String>::new();
    /// // In a tool call: the request's verified subject, placed by your auth layer.
    /// let request = Some(VerifiedSubject::new("alice".parse()?));
    /// let alice = manager.caller(&request)?;
    /// assert_eq!(vault.get(&alice, "github").await?, None);
    /// // No verified identity, no capability.
    /// assert!(manager.caller(&None::<VerifiedSubject>).is_err());
    /// # Ok(()) }
    /// ```
    pub fn caller<'c, C: ?Sized>(&'c self, cx: &'c C) -> Result<NamespaceToken<'c>, Error>
    where
        P: NamespaceProvider<C>,
    {
        Ok(NamespaceToken::new(self.namespace_of(cx)?))
    }

    /// Creates an open pending under the namespace the provider derives from `cx`.
    ///
    /// The namespace, the id and the times are settled when this is called; the returned
    /// future then stores the pending (and borrows neither `cx` nor `spec`).
    pub fn create<C: ?Sized>(
        &self,
        cx: &C,
        spec: Spec<T>,
    ) -> impl Future<Output = Result<Pending<T, Open>, Error>> + use<'_, T, S, P, C>
    where
        P: NamespaceProvider<C>,
    {
        let record = self
            .namespace_of(cx)
            .and_then(|namespace| self.record(namespace, spec));
        self.insert(record, Dedup::Never, |joined| match joined {
            Joined::Created(p) | Joined::Joined(p) => Ok(p),
            Joined::Declined(p) => Err(Error::Finished {
                id: p.id(),
                how: crate::store::Finished::Declined,
            }),
        })
    }

    /// Like [`create`](Self::create), but when an open, unexpired pending already exists for
    /// the same namespace, kind, alias and resource, returns it instead (against prompt
    /// storms). Atomic: any number of concurrent callers for one key get one pending. Within
    /// the [decline cooldown](ManagerBuilder::decline_cooldown) after a decline for the
    /// key, returns the decline.
    pub fn create_or_join<C: ?Sized>(
        &self,
        cx: &C,
        spec: Spec<T>,
    ) -> impl Future<Output = Result<Joined<T>, Error>> + use<'_, T, S, P, C>
    where
        P: NamespaceProvider<C>,
    {
        let record = self
            .namespace_of(cx)
            .and_then(|namespace| self.record(namespace, spec));
        let dedup = Dedup::Join {
            decline_cooldown: self.inner.decline_cooldown,
        };
        self.insert(record, dedup, Ok)
    }

    /// The open pendings of the verified caller of `cx` (through the provider, like
    /// [`caller`](Self::caller)), in no particular order (each store has its own: sort
    /// them, e.g. by [`Pending::created_at`], to show them).
    pub async fn list<C: ?Sized>(&self, cx: &C) -> Result<Vec<Pending<T, Open>>, Error>
    where
        P: NamespaceProvider<C>,
    {
        let token = self.caller(cx)?;
        self.list_token(&token).await
    }

    /// Removes every pending (open or finished) of the verified caller of `cx`; returns how
    /// many. Their waiters end with [`Outcome::Removed`]. (An operator who must clear
    /// another user's pendings uses [`operator`](Self::operator).)
    pub async fn clear<C: ?Sized>(&self, cx: &C) -> Result<usize, Error>
    where
        P: NamespaceProvider<C>,
    {
        let token = self.caller(cx)?;
        self.clear_scope(token.scope()).await
    }

    /// Completes an open pending. Of any number of concurrent completers of one id, exactly
    /// one gets `Ok`; the others get [`Error::Finished`] while the store keeps the record,
    /// [`Error::NotFound`] once it is gone (with zero retention at once, otherwise after the
    /// retention window).
    ///
    /// This writes nothing: to store what the user gave under the pending's namespace, use
    /// [`complete_with`](Self::complete_with), whose persist step is the only place a
    /// completion's write capability exists.
    pub fn complete(
        &self,
        pending: Pending<T, Open>,
    ) -> impl Future<Output = Result<Pending<T, Completed>, Error>> + use<'_, T, S, P> {
        let (id, namespace) = pending.open_parts();
        let namespace = namespace.clone();
        async move {
            let record = self
                .complete_inner(id, Some(namespace), None, Wake::Now)
                .await?;
            self.completed_pending(record)
        }
    }

    /// Completes an open pending, persists what the user gave under its namespace with
    /// `persist`, and only then wakes its waiters, so a woken tool call finds the result.
    ///
    /// Of concurrent completers only the winner runs `persist`, with the
    /// [`NamespaceToken`] of the pending it completed: the only write capability a
    /// completion ever yields. The token cannot leave `persist` (it is higher-ranked), and
    /// `persist` is `'static`, so it owns what it uses (move a clone of your vault in) and
    /// cannot capture another completion's token. If `persist` fails the pending stays
    /// completed (the user did act), its waiters are still woken, and the error comes back
    /// as [`Error::Persist`]. (A plain read of the state while `persist` runs, such as
    /// [`get`](Self::get), already sees the pending completed; only the wake-up is held.
    /// It is held for the waiters of this process: a waiter in another replica that reads
    /// the record while `persist` runs, at its periodic re-read or because its wait began
    /// then, answers completed before the result is written. Across replicas, a woken tool
    /// call that does not find the result should read it again a moment later, as the MCP
    /// glue does for up to 2 s.)
    /// If the wake-up itself fails (a shared store unreachable at that moment), the call
    /// still succeeds, since the completion and the persisted result stand: waiters elsewhere
    /// see them at their next read. If the returned future is dropped before it finishes
    /// (its caller went away), the waiters are still woken, from a task on the current tokio
    /// runtime, also when the store's answer to the transition was still in flight.
    ///
    /// **A dropped future drops `persist` too.** axum drops a handler's future when its
    /// client disconnects, and a timeout layer drops it when it fires: if that happens
    /// while `persist` runs, the pending stays completed with nothing persisted (its
    /// waiters are woken `Completed` and find nothing), and a second submit is refused as
    /// already completed. Where what the user gave must be kept (a secret, an OAuth code
    /// that cannot be exchanged twice), run the completion in a task of its own and await
    /// its handle: dropping a `JoinHandle` does not stop the task.
    ///
    /// ```
    /// # use oob::{CallbackBase, Manager, Namespace, OobPayload, Spec};
    /// # use oob::provider::FixedNamespace;
    /// # use oob::store::MemoryStore;
    /// # use oob::vault::{MemoryVault, Vault};
    /// # #[derive(Clone, OobPayload)]
    /// # #[oob(kind = "api_key", route = "/oob/key/{id}")]
    /// # struct ApiKey;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::builder()
    /// #     .store(MemoryStore::new())
    /// #     .provider(FixedNamespace::new(Namespace::new("alice").unwrap()))
    /// #     .callback_base(CallbackBase::parse("https://ex.com").unwrap())
    /// #     .build();
    /// # let vault = MemoryVault::<String>::new();
    /// # let open = manager.create(&(), Spec::new(ApiKey)).await?;
    /// let (m, writer) = (manager.clone(), vault.clone());
    /// let completion = tokio::spawn(async move {
    ///     m.complete_with(open, async move |token| writer.put(&token, "key", "sk-1".into()).await)
    ///         .await
    /// });
    /// // Should this handler's future be dropped here, the task still persists and wakes.
    /// let (done, ()) = completion.await??;
    /// # let _ = done;
    /// # assert_eq!(vault.get(&manager.caller(&())?, "key").await?.as_deref(), Some("sk-1"));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// ```
    /// # use oob::{CallbackBase, Manager, Namespace, OobPayload, Spec};
    /// # use oob::provider::FixedNamespace;
    /// # use oob::store::MemoryStore;
    /// # use oob::vault::{MemoryVault, Vault};
    /// # #[derive(Clone, OobPayload)]
    /// # #[oob(kind = "api_key", route = "/oob/key/{id}")]
    /// # struct ApiKey;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let manager = Manager::builder()
    /// #     .store(MemoryStore::new())
    /// #     .provider(FixedNamespace::new(Namespace::new("alice").unwrap()))
    /// #     .callback_base(CallbackBase::parse("https://ex.com").unwrap())
    /// #     .build();
    /// let vault = MemoryVault::<String>::new();
    /// let open = manager.create(&(), Spec::new(ApiKey)).await?;
    /// let writer = vault.clone();
    /// let (done, ()) = manager
    ///     .complete_with(open, async move |token| writer.put(&token, "key", "sk-1".into()).await)
    ///     .await?;
    /// assert_eq!(vault.get(&manager.caller(&())?, "key").await?.as_deref(), Some("sk-1"));
    /// # let _ = done;
    /// # Ok(())
    /// # }
    /// ```
    pub fn complete_with<F, R, E>(
        &self,
        pending: Pending<T, Open>,
        persist: F,
    ) -> impl Future<Output = Result<(Pending<T, Completed>, R), Error>> + use<'_, T, S, P, F, R, E>
    where
        F: for<'t> AsyncFnOnce(NamespaceToken<'t>) -> Result<R, E> + 'static,
        E: std::error::Error + Send + Sync + 'static,
    {
        let (id, namespace) = pending.open_parts();
        let namespace = namespace.clone();
        self.complete_with_inner(id, namespace, persist)
    }

    /// Cancels an open pending on the service's behalf.
    pub fn cancel(
        &self,
        pending: Pending<T, Open>,
    ) -> impl Future<Output = Result<Pending<T, Cancelled>, Error>> + use<'_, T, S, P> {
        let (id, namespace) = pending.open_parts();
        self.cancel_inner(id, CancelReason::Cancelled, Some(namespace.clone()), None)
    }

    /// Records that the user declined an open pending.
    pub fn decline(
        &self,
        pending: Pending<T, Open>,
    ) -> impl Future<Output = Result<Pending<T, Cancelled>, Error>> + use<'_, T, S, P> {
        let (id, namespace) = pending.open_parts();
        self.cancel_inner(id, CancelReason::Declined, Some(namespace.clone()), None)
    }

    /// The store. Its transitions, called directly, pass the manager by: no persist step, no
    /// log or metrics, no integrity or contract check (a transition with [`Wake::Now`] and
    /// any cancel still wake the pending's waiters, through the store's events). Use it to
    /// read or maintain the store, and the manager to complete or cancel.
    ///
    /// [`Wake::Now`]: crate::store::Wake::Now
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
