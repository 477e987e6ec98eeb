//! [`IntegrityKey`]: binds each pending's namespace and kind to its id (feature `integrity`),
//! so a store, or anyone who can write its database, cannot move a pending to another
//! namespace without the manager noticing.
//!
//! With a key, a manager mints ids whose 122 random-looking bits are a 60-bit random nonce
//! followed by 62 bits of HMAC-SHA256 over the nonce, the kind and the namespace (64 bits
//! of it, less the UUID's 2 variant bits). Every
//! record the store hands back is checked before it becomes a `Pending` (and so before any
//! persist step gets a token for its namespace): a record whose namespace or kind does not
//! match its id fails with [`Error::StoreContract`](crate::Error::StoreContract). To anyone
//! without the key the ids stay as unguessable as random ones.
//!
//! Every manager (every replica, and the same service after a restart) that reads the same
//! store must have the same key, or it refuses the others' pendings.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::id::PendingId;
use crate::namespace::Namespace;

/// The key a manager binds namespaces to ids with
/// ([`ManagerBuilder::integrity_key`](crate::ManagerBuilder::integrity_key)). Never printed.
#[derive(Clone)]
pub struct IntegrityKey {
    key: [u8; 32],
}

impl std::fmt::Debug for IntegrityKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IntegrityKey(..)")
    }
}

/// The integrity key given is shorter than 32 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an integrity key needs at least 32 bytes of secret, not {0}")]
pub struct ShortIntegrityKey(pub usize);

impl IntegrityKey {
    /// A key from at least 32 bytes of secret (longer keys are hashed to 32 bytes).
    ///
    /// # Errors
    /// Fewer than 32 bytes.
    pub fn new(secret: impl AsRef<[u8]>) -> Result<Self, ShortIntegrityKey> {
        let secret = secret.as_ref();
        if secret.len() < 32 {
            return Err(ShortIntegrityKey(secret.len()));
        }
        let mut key = [0u8; 32];
        if secret.len() == 32 {
            key.copy_from_slice(secret);
        } else {
            use sha2::Digest;
            key.copy_from_slice(&Sha256::digest(secret));
        }
        Ok(Self { key })
    }

    fn tag(&self, nonce: &[u8], kind: &str, namespace: &Namespace) -> [u8; 8] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .unwrap_or_else(|_| <Hmac<Sha256> as KeyInit>::new(&Default::default()));
        mac.update(b"oob-pending-id/v1\0");
        mac.update(nonce);
        for part in [kind.as_bytes(), namespace.as_str().as_bytes()] {
            mac.update(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
            mac.update(part);
        }
        let out = mac.finalize().into_bytes();
        let mut tag = [0u8; 8];
        tag.copy_from_slice(&out[..8]);
        tag
    }

    /// A fresh id bound to `namespace` and `kind`.
    pub(crate) fn mint(&self, kind: &str, namespace: &Namespace) -> PendingId {
        let mut bytes = *PendingId::random().as_bytes();
        // Bytes 0..8 keep the random nonce (60 random bits once the UUID's 4 version bits in
        // byte 6 are set); bytes 8..16 carry the tag, less the 2 variant bits of byte 8.
        let tag = self.tag(&nonce_of(&bytes), kind, namespace);
        bytes[8..16].copy_from_slice(&tag);
        set_v4_bits(&mut bytes);
        PendingId::from_bytes(bytes).unwrap_or_else(|_| PendingId::random())
    }

    /// Whether `id` was minted for `namespace` and `kind` under this key.
    pub(crate) fn verify(&self, id: PendingId, kind: &str, namespace: &Namespace) -> bool {
        let bytes = id.as_bytes();
        let mut expected = *bytes;
        let tag = self.tag(&nonce_of(bytes), kind, namespace);
        expected[8..16].copy_from_slice(&tag);
        set_v4_bits(&mut expected);
        // Not secret-dependent timing worth guarding: the id is public to its holder.
        expected == *bytes
    }
}

/// The nonce part of an id: bytes 0..8 with the version nibble cleared.
fn nonce_of(bytes: &[u8; 16]) -> [u8; 8] {
    let mut nonce = [0u8; 8];
    nonce.copy_from_slice(&bytes[..8]);
    nonce[6] &= 0x0f;
    nonce
}

fn set_v4_bits(bytes: &mut [u8; 16]) {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_verify_only_for_their_namespace_kind_and_key() {
        let key = IntegrityKey::new([7u8; 32]).expect("key");
        let other = IntegrityKey::new([8u8; 32]).expect("key");
        let alice = Namespace::new("alice").expect("ns");
        let bob = Namespace::new("bob").expect("ns");
        for _ in 0..100 {
            let id = key.mint("api_key", &alice);
            assert!(key.verify(id, "api_key", &alice));
            assert!(!key.verify(id, "api_key", &bob));
            assert!(!key.verify(id, "device_code", &alice));
            assert!(!other.verify(id, "api_key", &alice));
            // Still a canonical v4 UUID.
            assert_eq!(id.to_string().parse::<PendingId>().ok(), Some(id));
        }
        assert!(!key.verify(PendingId::random(), "api_key", &alice));
        assert_eq!(
            IntegrityKey::new([1u8; 31]).err(),
            Some(ShortIntegrityKey(31))
        );
        assert_ne!(key.mint("k", &alice), key.mint("k", &alice));
    }
}
