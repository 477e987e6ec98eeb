//! [`EncryptedVault`]: encryption at rest as a layer over any vault (feature `encryption`).

use std::fmt;
use std::marker::PhantomData;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use super::keyring::{KeyRing, VaultKey};
use super::{Entry, Vault, VaultError, Version, WriteOptions};
use crate::CodecError;
use crate::capability::Capability;

/// The format byte of a sealed value: XChaCha20-Poly1305 with the layout below.
const FORMAT: u8 = 1;
/// Format byte, key id, nonce.
const HEADER: usize = 1 + 4 + 24;

/// A sealed value as the inner vault stores it: `format (1) | key id (4, big-endian) |
/// nonce (24) | ciphertext and tag`, serialized as base64 text (so any JSON-storing vault
/// keeps it). Opening it needs the key ring, the namespace and the key it was written under.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(Vec<u8>);

impl Sealed {
    /// Sealed bytes as read from storage.
    #[must_use]
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The sealed bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The id of the key it was sealed with, if the header is well-formed.
    #[must_use]
    pub fn key_id(&self) -> Option<u32> {
        let id = self.0.get(1..5)?;
        (self.0.first() == Some(&FORMAT)).then(|| u32::from_be_bytes([id[0], id[1], id[2], id[3]]))
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed({} bytes)", self.0.len())
    }
}

impl Serialize for Sealed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Sealed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD
            .decode(text)
            .map(Self)
            .map_err(serde::de::Error::custom)
    }
}

/// Why a sealed value could not be opened (or a value sealed).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// The stored bytes are not a sealed value of a known format.
    #[error("the stored value is not a sealed value")]
    Format,
    /// The value was sealed with a key the ring does not hold.
    #[error("the value was sealed with key {0}, which the key ring does not hold")]
    UnknownKey(u32),
    /// Authentication failed: the value was tampered with, moved to another namespace or
    /// key, or the key with its id is not the one that sealed it.
    #[error("the sealed value does not open here (tampered, moved, or another key)")]
    Open,
    /// The random nonce could not be drawn.
    #[error("the operating system's random generator failed")]
    Random,
}

fn sealing(e: SealError) -> VaultError {
    VaultError::Sealing(Box::new(e))
}

/// Binds a sealed value to where it is stored: the namespace, the key and the key id.
fn associated_data(namespace: &str, key: &str, key_id: u32) -> Vec<u8> {
    let mut aad = Vec::with_capacity(32 + namespace.len() + key.len());
    aad.extend_from_slice(b"oob-vault/v1\0");
    aad.push(FORMAT);
    for part in [namespace.as_bytes(), key.as_bytes()] {
        aad.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        aad.extend_from_slice(part);
    }
    aad.extend_from_slice(&key_id.to_be_bytes());
    aad
}

/// The cipher of `key`, built from a reference to its bytes (no copy of them is left
/// behind; the cipher zeroizes its own when dropped).
fn cipher(key: &VaultKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(key.bytes().into())
}

/// Encryption at rest over any vault that stores [`Sealed`] values: each value is
/// serialized to JSON and sealed with XChaCha20-Poly1305 under the [`KeyRing`]'s active key,
/// with a random 192-bit nonce, the namespace, the key and the key id bound as associated
/// data. A value copied to another key or namespace does not open; neither does one whose
/// bytes changed. Versions, expiry and compare-and-swap are the inner vault's, and are not
/// bound: someone who can write the database (but holds no key) can put back an earlier
/// value of the same entry (a backup's, or one since deleted), change or clear its expiry,
/// or copy it to another store sealed with the same ring under the same namespace and key:
/// which vault a value belongs to is not bound, so a value copied from one vault into another
/// of the same service (OAuth tokens into a vault whose values the service shows) opens there
/// too. They cannot read a value or move it to another user. Give each vault its own
/// [`KeyRing`] (and each environment its own keys).
///
/// Keys rotate in three phases across replicas (distribute the new key, activate it, then
/// re-seal with [`reseal_all`](Self::reseal_all) and drop the old one): see [`KeyRing`].
///
/// ```
/// use oob::vault::{EncryptedVault, KeyRing, MemoryVault, Sealed, Vault, VaultKey};
/// # use oob::{CallbackBase, Manager, OobPayload, provider::FixedNamespace, store::MemoryStore};
/// # #[derive(Clone, OobPayload)] #[oob(kind = "k", route = "/cb/{id}")] struct Key;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let manager = Manager::<Key, _, _>::builder().store(MemoryStore::new())
/// #     .provider(FixedNamespace::new("alice".parse()?)).callback_base(CallbackBase::parse("https://ex.com")?).build();
/// let ring = KeyRing::new(1, VaultKey::generate()?);
/// let vault = EncryptedVault::<String, _>::new(MemoryVault::<Sealed>::new(), ring);
/// let alice = manager.caller(&())?;
/// vault.put(&alice, "github", "gho_secret".to_string()).await?;
/// assert_eq!(vault.get(&alice, "github").await?.as_deref(), Some("gho_secret"));
/// // What the inner vault holds is ciphertext.
/// let stored = vault.inner().get(&alice, "github").await?.expect("stored");
/// assert!(!String::from_utf8_lossy(stored.as_bytes()).contains("gho_secret"));
/// # Ok(()) }
/// ```
pub struct EncryptedVault<V, I> {
    inner: I,
    ring: KeyRing,
    _value: PhantomData<fn() -> V>,
}

impl<V, I: Clone> Clone for EncryptedVault<V, I> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            ring: self.ring.clone(),
            _value: PhantomData,
        }
    }
}

impl<V, I> fmt::Debug for EncryptedVault<V, I> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedVault")
            .field("ring", &self.ring)
            .finish_non_exhaustive()
    }
}

impl<V, I> EncryptedVault<V, I> {
    /// Seals the `V` values it writes to `inner` with `ring`.
    #[must_use]
    pub fn new(inner: I, ring: KeyRing) -> Self {
        Self {
            inner,
            ring,
            _value: PhantomData,
        }
    }

    /// The inner vault (it holds only [`Sealed`] values).
    #[must_use]
    pub fn inner(&self) -> &I {
        &self.inner
    }

    /// Seals `value` as JSON for `namespace` and `key` under the active key.
    fn seal(&self, namespace: &str, key: &str, value: &V) -> Result<Sealed, VaultError>
    where
        V: Serialize,
    {
        let json = Zeroizing::new(
            serde_json::to_vec(value)
                .map_err(|e| VaultError::Codec(Box::new(CodecError::encoding(&e))))?,
        );
        self.seal_bytes(namespace, key, &json)
    }

    /// Seals `plaintext` for `namespace` and `key` under the ring's active key.
    pub(super) fn seal_bytes(
        &self,
        namespace: &str,
        key: &str,
        plaintext: &[u8],
    ) -> Result<Sealed, VaultError> {
        let (id, vault_key) = self.ring.active();
        let nonce = XNonce::try_generate().map_err(|_| sealing(SealError::Random))?;
        let aad = associated_data(namespace, key, id);
        let ciphertext = cipher(vault_key)
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| sealing(SealError::Open))?;
        let mut out = Vec::with_capacity(HEADER + ciphertext.len());
        out.push(FORMAT);
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        Ok(Sealed(out))
    }

    /// Opens `sealed`, stored under `namespace` and `key`, and decodes it as a `V`.
    fn open(&self, namespace: &str, key: &str, sealed: &Sealed) -> Result<V, VaultError>
    where
        V: DeserializeOwned,
    {
        let json = self.open_bytes(namespace, key, sealed)?;
        serde_json::from_slice(&json)
            .map_err(|e| VaultError::Codec(Box::new(CodecError::decoding(&e))))
    }

    /// The plaintext of `sealed`, stored under `namespace` and `key` (zeroized when
    /// dropped).
    pub(super) fn open_bytes(
        &self,
        namespace: &str,
        key: &str,
        sealed: &Sealed,
    ) -> Result<Zeroizing<Vec<u8>>, VaultError> {
        let id = sealed.key_id().ok_or(sealing(SealError::Format))?;
        let bytes = sealed.as_bytes();
        if bytes.len() < HEADER {
            return Err(sealing(SealError::Format));
        }
        let vault_key = self
            .ring
            .get(id)
            .ok_or(sealing(SealError::UnknownKey(id)))?;
        let nonce = XNonce::try_from(&bytes[5..HEADER]).map_err(|_| sealing(SealError::Format))?;
        let aad = associated_data(namespace, key, id);
        cipher(vault_key)
            .decrypt(
                &nonce,
                Payload {
                    msg: &bytes[HEADER..],
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| sealing(SealError::Open))
    }

    /// The ring this vault seals and opens with.
    pub(super) fn ring(&self) -> &KeyRing {
        &self.ring
    }
}

impl<V, I> Vault<V> for EncryptedVault<V, I>
where
    V: Serialize + DeserializeOwned + Send + Sync + 'static,
    I: Vault<Sealed>,
{
    async fn write(
        &self,
        token: &dyn Capability,
        key: &str,
        value: V,
        options: WriteOptions,
    ) -> Result<Version, VaultError> {
        // The key rule before anything is sealed (and over any inner vault).
        super::check_key(key)?;
        let sealed = self.seal(token.namespace().as_str(), key, &value)?;
        self.inner.write(token, key, sealed, options).await
    }

    async fn read(
        &self,
        token: &dyn Capability,
        key: &str,
    ) -> Result<Option<Entry<V>>, VaultError> {
        let Some(entry) = self.inner.read(token, key).await? else {
            return Ok(None);
        };
        let value = self.open(token.namespace().as_str(), key, entry.value())?;
        Ok(Some(entry.map(|_| value)))
    }

    async fn delete(&self, token: &dyn Capability, key: &str) -> Result<bool, VaultError> {
        self.inner.delete(token, key).await
    }

    async fn keys(&self, token: &dyn Capability) -> Result<Vec<String>, VaultError> {
        self.inner.keys(token).await
    }
}
