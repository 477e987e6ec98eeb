//! Reading pendings: by id ([`Manager::get`], [`Manager::open`]) and the verified caller's
//! own ([`Manager::caller`], [`Manager::list`]).

use super::Manager;
use crate::capability::NamespaceToken;
use crate::error::Error;
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::payload::OobPayload;
use crate::pending::{AnyPending, Pending};
use crate::provider::NamespaceProvider;
use crate::state::Open;
use crate::store::Store;

use super::instrument::observed;

impl<T, S, P> Manager<T, S, P>
where
    T: OobPayload + Clone + Send + Sync + 'static,
    S: Store<T>,
    P: Send + Sync + 'static,
{
    /// The caller's namespace, as the provider derives it from `cx`.
    pub fn namespace_of<C: ?Sized>(&self, cx: &C) -> Result<Namespace, Error>
    where
        P: NamespaceProvider<C>,
    {
        Ok(self.inner.provider.namespace(cx)?)
    }

    /// The pending with this id, in whatever state the store holds it.
    pub async fn get(&self, id: PendingId) -> Result<AnyPending<T>, Error> {
        let record = observed(
            self.inner.store.name(),
            "get",
            self.inner.store.get(id, self.now()),
        )
        .await?;
        let record = record.ok_or(Error::NotFound(id))?;
        self.bound(&record)?;
        Ok(self.any(record))
    }

    /// The open pending with this id; [`Error::NotFound`], [`Error::Expired`] or
    /// [`Error::Finished`] otherwise. What a callback handler calls first.
    pub async fn open(&self, id: PendingId) -> Result<Pending<T, Open>, Error> {
        let record = observed(
            self.inner.store.name(),
            "get",
            self.inner.store.get(id, self.now()),
        )
        .await?;
        self.open_pending(record.ok_or(Error::NotFound(id))?)
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

    /// The open pendings of the verified caller of `cx` (through the provider, like
    /// [`caller`](Self::caller)).
    pub async fn list<C: ?Sized>(&self, cx: &C) -> Result<Vec<Pending<T, Open>>, Error>
    where
        P: NamespaceProvider<C>,
    {
        let token = self.caller(cx)?;
        let records = observed(
            self.inner.store.name(),
            "list",
            self.inner.store.list_namespace(&token, self.now()),
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
