//! [`DynVault`] and [`BoxVault`]: a vault chosen at run time, or wrapped in a layer.
//!
//! [`Vault`] returns `impl Future`, so `dyn Vault<V>` does not exist. [`DynVault`] is the
//! same interface with boxed futures, implemented for every vault; [`BoxVault`] puts any
//! vault behind it and is a [`Vault`] again. Every method still takes a [`Capability`], so
//! the erased form opens a namespace exactly as the vault under it does.
//!
//! ```
//! use oob::vault::{BoxVault, MemoryVault};
//! fn vault_from(config: &str) -> BoxVault<String> {
//!     match config {
//!         "memory" => BoxVault::new(MemoryVault::new()),
//!         other => panic!("unknown vault {other}"),
//!     }
//! }
//! # let _ = vault_from("memory");
//! ```

use std::sync::Arc;

use super::{Entry, Vault, VaultError, Version, WriteOptions};
use crate::capability::Capability;
use crate::store::BoxFuture;

/// [`Vault`] with boxed futures, so it can be a trait object (`dyn DynVault<V>`).
/// Implemented for every [`Vault`]; see [`Vault`] for what each method does.
pub trait DynVault<V>: Send + Sync + 'static {
    /// [`Vault::write`].
    fn write<'a>(
        &'a self,
        token: &'a dyn Capability,
        key: &'a str,
        value: V,
        options: WriteOptions,
    ) -> BoxFuture<'a, Result<Version, VaultError>>;

    /// [`Vault::read`].
    fn read<'a>(
        &'a self,
        token: &'a dyn Capability,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Entry<V>>, VaultError>>;

    /// [`Vault::delete`].
    fn delete<'a>(
        &'a self,
        token: &'a dyn Capability,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool, VaultError>>;

    /// [`Vault::keys`].
    fn keys<'a>(
        &'a self,
        token: &'a dyn Capability,
    ) -> BoxFuture<'a, Result<Vec<String>, VaultError>>;
}

impl<V: 'static, W: Vault<V>> DynVault<V> for W {
    fn write<'a>(
        &'a self,
        token: &'a dyn Capability,
        key: &'a str,
        value: V,
        options: WriteOptions,
    ) -> BoxFuture<'a, Result<Version, VaultError>> {
        Box::pin(Vault::write(self, token, key, value, options))
    }

    fn read<'a>(
        &'a self,
        token: &'a dyn Capability,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Entry<V>>, VaultError>> {
        Box::pin(Vault::read(self, token, key))
    }

    fn delete<'a>(
        &'a self,
        token: &'a dyn Capability,
        key: &'a str,
    ) -> BoxFuture<'a, Result<bool, VaultError>> {
        Box::pin(Vault::delete(self, token, key))
    }

    fn keys<'a>(
        &'a self,
        token: &'a dyn Capability,
    ) -> BoxFuture<'a, Result<Vec<String>, VaultError>> {
        Box::pin(Vault::keys(self, token))
    }
}

/// Any vault, behind a [`DynVault`] trait object: a [`Vault`] whose backend is chosen at run
/// time. Cloning shares the vault.
pub struct BoxVault<V>(Arc<dyn DynVault<V>>);

impl<V: 'static> BoxVault<V> {
    /// Erases `vault`.
    pub fn new(vault: impl Vault<V>) -> Self {
        Self(Arc::new(vault))
    }

    /// A vault already behind a trait object.
    pub fn from_arc(vault: Arc<dyn DynVault<V>>) -> Self {
        Self(vault)
    }
}

impl<V> Clone for BoxVault<V> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<V> std::fmt::Debug for BoxVault<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoxVault").finish_non_exhaustive()
    }
}

impl<V: Send + 'static> Vault<V> for BoxVault<V> {
    async fn write(
        &self,
        token: &dyn Capability,
        key: &str,
        value: V,
        options: WriteOptions,
    ) -> Result<Version, VaultError> {
        self.0.write(token, key, value, options).await
    }

    async fn read(
        &self,
        token: &dyn Capability,
        key: &str,
    ) -> Result<Option<Entry<V>>, VaultError> {
        self.0.read(token, key).await
    }

    async fn delete(&self, token: &dyn Capability, key: &str) -> Result<bool, VaultError> {
        self.0.delete(token, key).await
    }

    async fn keys(&self, token: &dyn Capability) -> Result<Vec<String>, VaultError> {
        self.0.keys(token).await
    }
}
