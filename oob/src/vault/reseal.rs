//! Key rotation on an [`EncryptedVault`]: [`reseal`](EncryptedVault::reseal) an entry.

use super::{EncryptedVault, Sealed, Vault, VaultError, WriteOptions};
use crate::capability::Capability;

impl<V, I: Vault<Sealed>> EncryptedVault<V, I> {
    /// Re-seals the entry under `key` with the ring's active key, if another key sealed it
    /// (key rotation). It re-seals the stored plaintext bytes as they are (nothing is
    /// decoded, so fields `V` does not know are kept), under a compare-and-swap on the
    /// version read, keeping the expiry. Returns whether it re-sealed.
    ///
    /// A re-seal is a write: the entry gets a new version, so a writer holding the version
    /// read before (an OAuth refresh's final compare-and-swap) gets
    /// [`VaultError::Conflict`] and must read again.
    ///
    /// # Errors
    /// The key breaks the key rule ([`VaultError::Key`]), the entry does not open
    /// ([`VaultError::Sealing`]), the inner vault failed, or the entry changed meanwhile
    /// ([`VaultError::Conflict`]: read and retry).
    pub async fn reseal(&self, token: &dyn Capability, key: &str) -> Result<bool, VaultError> {
        super::check_key(key)?;
        let Some(entry) = self.inner().read(token, key).await? else {
            return Ok(false);
        };
        if entry.value().key_id() == Some(self.ring().active_id()) {
            return Ok(false);
        }
        let ns = token.namespace().as_str();
        let plaintext = self.open_bytes(ns, key, entry.value())?;
        let sealed = self.seal_bytes(ns, key, &plaintext)?;
        let mut options = WriteOptions::new().if_version(entry.version());
        if let Some(at) = entry.expires_at() {
            options = options.expires_at(at);
        }
        self.inner().write(token, key, sealed, options).await?;
        Ok(true)
    }
}
