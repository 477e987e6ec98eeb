//! [`KeyRing`] and [`VaultKey`]: the keys an [`EncryptedVault`](super::EncryptedVault) seals
//! and opens with.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// A 256-bit vault key. Never printed; its bytes are zeroized when it is dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct VaultKey([u8; 32]);

impl VaultKey {
    /// A key from 32 bytes of secret (e.g. decoded from the service's secret store).
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A key from a slice, which must be exactly 32 bytes.
    ///
    /// # Errors
    /// The slice is not 32 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyLength> {
        <[u8; 32]>::try_from(bytes)
            .map(Self)
            .map_err(|_| KeyLength(bytes.len()))
    }

    /// A fresh random key from the operating system's generator.
    ///
    /// # Errors
    /// The operating system's random generator failed.
    pub fn generate() -> Result<Self, RandomFailed> {
        use chacha20poly1305::aead::Generate;
        let mut drawn =
            chacha20poly1305::Key::try_generate().map_err(|e| RandomFailed(Box::new(e)))?;
        // Copied straight into the key (zeroized on drop), then the draw is wiped.
        let mut key = Self([0; 32]);
        key.0.copy_from_slice(&drawn);
        drawn.as_mut_slice().zeroize();
        Ok(key)
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VaultKey(..)")
    }
}

/// A key was not 32 bytes long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a vault key is 32 bytes, not {0}")]
pub struct KeyLength(pub usize);

/// The operating system's random generator failed.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random generator failed")]
pub struct RandomFailed(#[source] pub(crate) Box<dyn std::error::Error + Send + Sync + 'static>);

/// The keys of an [`EncryptedVault`](super::EncryptedVault): one active key that seals every
/// write, and older keys that still open what they sealed. Each key has a numeric id, stored
/// with every sealed value.
///
/// # Rotation, across replicas
///
/// Every replica must be able to open what any other seals, at every moment of a rolling
/// deploy. So rotate in three phases, each deployed to every replica before the next
/// starts:
///
/// 1. **Distribute.** The new key joins every ring as an old key
///    ([`with_old_key`](Self::with_old_key)); the current key stays active. Nothing is
///    sealed with the new key yet, and every replica can already open it.
/// 2. **Activate.** The new key becomes active and the previous one an old key. Replicas
///    not yet updated still seal with the previous key, which every ring holds.
/// 3. **Re-seal, then drop.** Once every replica seals with the new key, re-seal what the
///    previous key sealed: [`EncryptedVault::reseal_all`](super::EncryptedVault::reseal_all)
///    (every namespace, from a maintenance job; or
///    [`reseal`](super::EncryptedVault::reseal) per entry). Then deploy rings without the
///    previous key.
///
/// Activating a key that some replica does not hold yet breaks that replica's reads of
/// everything the others write meanwhile ([`SealError::UnknownKey`](super::SealError)).
/// A re-seal is a write and changes the entry's version: a replica's compare-and-swap on the
/// version it read before (an OAuth refresh's final write) then fails with
/// [`VaultError::Conflict`](super::VaultError::Conflict) and must read again; re-sealing
/// before phase 2 is done everywhere makes such conflicts more likely and gains nothing
/// (those replicas keep sealing with the old key). Drop the old key only after a
/// `reseal_all` run [`is_complete`](super::ResealReport::is_complete): entries it cannot
/// open are counted, not lost. For a compromised key, go through the phases without
/// waiting, and accept that replicas not yet updated fail to read until they are.
///
/// ```
/// use oob::vault::{KeyRing, VaultKey};
/// let ring = KeyRing::new(2, VaultKey::from_bytes([7; 32])).with_old_key(1, VaultKey::from_bytes([1; 32]));
/// assert_eq!(ring.active_id(), 2);
/// ```
#[derive(Clone)]
pub struct KeyRing {
    active: Arc<(u32, VaultKey)>,
    old: Arc<BTreeMap<u32, VaultKey>>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("active", &self.active.0)
            .field("old", &self.old.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl KeyRing {
    /// A ring whose active key is `key`, with id `id`.
    #[must_use]
    pub fn new(id: u32, key: VaultKey) -> Self {
        Self {
            active: Arc::new((id, key)),
            old: Arc::default(),
        }
    }

    /// Adds an older key that still opens what it sealed (a key with the active id is
    /// ignored: the active key stays).
    #[must_use]
    pub fn with_old_key(mut self, id: u32, key: VaultKey) -> Self {
        if id != self.active.0 {
            Arc::make_mut(&mut self.old).insert(id, key);
        }
        self
    }

    /// The id of the key that seals writes.
    #[must_use]
    pub fn active_id(&self) -> u32 {
        self.active.0
    }

    pub(crate) fn active(&self) -> (u32, &VaultKey) {
        (self.active.0, &self.active.1)
    }

    pub(crate) fn get(&self, id: u32) -> Option<&VaultKey> {
        if id == self.active.0 {
            Some(&self.active.1)
        } else {
            self.old.get(&id)
        }
    }
}
