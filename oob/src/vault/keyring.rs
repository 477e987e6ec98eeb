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
/// Rotation: add the new key as active and keep the old one; every write (a refresh, or
/// [`EncryptedVault::reseal`](super::EncryptedVault::reseal)) re-seals under the new key.
/// Once nothing sealed under the old key remains, drop it from the ring.
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
