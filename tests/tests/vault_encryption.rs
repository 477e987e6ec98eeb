//! The encryption layer: what it stores is ciphertext bound to its namespace and key, a
//! tampered, moved or foreign value does not open, and keys rotate.
//!
//! One file each: sealing (`sealing`), key rotation (`rotation`), and the key rule over any
//! inner vault (`key_rule`).

use oob::vault::{KeyRing, VaultError, VaultKey};

#[path = "vault_encryption/sealing.rs"]
mod sealing;

#[path = "vault_encryption/rotation.rs"]
mod rotation;

#[path = "vault_encryption/key_rule.rs"]
mod key_rule;

const SECRET: &str = "gho_CANARY_SECRET_0f9e";

fn ring(id: u32, byte: u8) -> KeyRing {
    KeyRing::new(id, VaultKey::from_bytes([byte; 32]))
}

fn is_sealing(r: &Result<Option<String>, VaultError>) -> bool {
    matches!(r, Err(VaultError::Sealing(_)))
}
