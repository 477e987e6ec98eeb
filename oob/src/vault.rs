//! [`Vault`]: namespaced persistence of what out-of-band interactions obtain.
//!
//! Writes take a [`NamespaceToken`], which only a completed pending yields, so whatever a
//! user's interaction obtained can only be stored under that user's namespace. Reads and
//! deletes take a [`Namespace`], which the service derives from the authenticated caller.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use crate::namespace::Namespace;
use crate::pending::NamespaceToken;

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

/// Values of type `V` stored per namespace and key.
///
/// ```
/// use oob::vault::{MemoryVault, Vault};
/// # async fn demo<T>(completed: oob::Pending<T, oob::state::Completed>) -> Result<(), oob::vault::VaultError> {
/// let vault = MemoryVault::<String>::new();
/// vault.put(&completed.namespace_token(), "github", "gho_secret".into()).await?;
/// let token = vault.get(completed.namespace(), "github").await?;
/// assert_eq!(token.as_deref(), Some("gho_secret"));
/// # Ok(()) }
/// ```
pub trait Vault<V>: Send + Sync + 'static {
    /// Stores `value` under the token's namespace and `key`, replacing any previous value.
    fn put(
        &self,
        token: &NamespaceToken<'_>,
        key: &str,
        value: V,
    ) -> impl Future<Output = Result<(), VaultError>> + Send;

    /// The value under `namespace` and `key`.
    fn get(
        &self,
        namespace: &Namespace,
        key: &str,
    ) -> impl Future<Output = Result<Option<V>, VaultError>> + Send;

    /// Removes the value under `namespace` and `key`; whether there was one.
    fn delete(
        &self,
        namespace: &Namespace,
        key: &str,
    ) -> impl Future<Output = Result<bool, VaultError>> + Send;
}

/// An in-process [`Vault`]. Cloning shares it.
#[derive(Debug)]
pub struct MemoryVault<V> {
    map: Arc<Mutex<HashMap<Namespace, HashMap<String, V>>>>,
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

    /// The keys stored under a namespace.
    #[must_use]
    pub fn keys(&self, namespace: &Namespace) -> Vec<String> {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(namespace)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
}

impl<V: Clone + Send + Sync + 'static> Vault<V> for MemoryVault<V> {
    async fn put(&self, token: &NamespaceToken<'_>, key: &str, value: V) -> Result<(), VaultError> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.entry(token.namespace().clone())
            .or_default()
            .insert(key.to_owned(), value);
        Ok(())
    }

    async fn get(&self, namespace: &Namespace, key: &str) -> Result<Option<V>, VaultError> {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(map.get(namespace).and_then(|m| m.get(key)).cloned())
    }

    async fn delete(&self, namespace: &Namespace, key: &str) -> Result<bool, VaultError> {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(m) = map.get_mut(namespace) else {
            return Ok(false);
        };
        let removed = m.remove(key).is_some();
        if m.is_empty() {
            map.remove(namespace);
        }
        Ok(removed)
    }
}
