//! [`Vault`]: namespaced persistence of what out-of-band interactions obtain.
//!
//! Every operation, reads included, takes a [`NamespaceToken`]: the capability of the call
//! that won a completion (handed to the persist step of
//! [`Manager::complete_with`](crate::Manager::complete_with)) or of a verified caller
//! ([`Manager::caller`](crate::Manager::caller)). A [`Namespace`](crate::Namespace) parsed
//! from text opens nothing, so whatever a user's interaction obtained can only be stored
//! under, read from and deleted from that user's namespace.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use crate::capability::Capability;
use crate::namespace::Namespace;

#[cfg(feature = "sqlite")]
pub use crate::store::sqlite_vault::SqliteVault;

/// A vault failure. The source chain is kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The backend failed.
    #[error("vault backend error")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// Values of type `V` stored per namespace and key, opened by a
/// [`NamespaceToken`](crate::NamespaceToken) (every method takes a [`Capability`], which only
/// a token is).
///
/// ```
/// use oob::vault::{MemoryVault, Vault};
/// # use oob::{CallbackBase, Manager, OobPayload, Spec};
/// # use oob::provider::{FromVerifiedSubject, VerifiedSubject};
/// # use oob::store::MemoryStore;
/// # #[derive(Clone, OobPayload)] #[oob(kind = "k", route = "/cb/{id}")] struct Key;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let manager = Manager::<Key, _, _>::builder().store(MemoryStore::new())
/// #     .provider(FromVerifiedSubject).callback_base(CallbackBase::parse("https://ex.com")?).build();
/// let alice = Some(VerifiedSubject::new("alice".parse()?));
/// let open = manager.create(&alice, Spec::new(Key)).await?;
///
/// // The callback's winning completion writes under the pending's namespace...
/// let vault = MemoryVault::<String>::new();
/// let writer = vault.clone();
/// manager
///     .complete_with(open, async move |token| writer.put(&token, "github", "gho_secret".into()).await)
///     .await?;
///
/// // ...and alice's next tool call reads it with her own capability; bob finds nothing.
/// let token = manager.caller(&alice)?;
/// assert_eq!(vault.get(&token, "github").await?.as_deref(), Some("gho_secret"));
/// let bob = Some(VerifiedSubject::new("bob".parse()?));
/// assert_eq!(vault.get(&manager.caller(&bob)?, "github").await?, None);
/// # Ok(()) }
/// ```
pub trait Vault<V>: Send + Sync + 'static {
    /// Stores `value` under the token's namespace and `key`, replacing any previous value.
    fn put(
        &self,
        token: &dyn Capability,
        key: &str,
        value: V,
    ) -> impl Future<Output = Result<(), VaultError>> + Send;

    /// The value under the token's namespace and `key`.
    fn get(
        &self,
        token: &dyn Capability,
        key: &str,
    ) -> impl Future<Output = Result<Option<V>, VaultError>> + Send;

    /// Removes the value under the token's namespace and `key`; whether there was one.
    fn delete(
        &self,
        token: &dyn Capability,
        key: &str,
    ) -> impl Future<Output = Result<bool, VaultError>> + Send;
}

/// An in-process [`Vault`]. Cloning shares it. `Debug` prints no value and no namespace.
pub struct MemoryVault<V> {
    map: Arc<Mutex<HashMap<Namespace, HashMap<String, V>>>>,
}

impl<V> std::fmt::Debug for MemoryVault<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryVault").finish_non_exhaustive()
    }
}

impl<V> Clone for MemoryVault<V> {
    fn clone(&self) -> Self {
        Self {
            map: self.map.clone(),
        }
    }
}

impl<V> Default for MemoryVault<V> {
    fn default() -> Self {
        Self {
            map: Arc::default(),
        }
    }
}

impl<V> MemoryVault<V> {
    /// An empty vault.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The keys stored under the token's namespace.
    #[must_use]
    pub fn keys(&self, token: &dyn Capability) -> Vec<String> {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(token.namespace())
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
}

impl<V: Clone + Send + Sync + 'static> Vault<V> for MemoryVault<V> {
    async fn put(&self, token: &dyn Capability, key: &str, value: V) -> Result<(), VaultError> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry(token.namespace().clone())
            .or_default()
            .insert(key.to_owned(), value);
        Ok(())
    }

    async fn get(&self, token: &dyn Capability, key: &str) -> Result<Option<V>, VaultError> {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(map.get(token.namespace()).and_then(|m| m.get(key)).cloned())
    }

    async fn delete(&self, token: &dyn Capability, key: &str) -> Result<bool, VaultError> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(m) = map.get_mut(token.namespace()) else {
            return Ok(false);
        };
        let removed = m.remove(key).is_some();
        if m.is_empty() {
            map.remove(token.namespace());
        }
        Ok(removed)
    }
}
