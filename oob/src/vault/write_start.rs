//! What every serialising backend's [`Vault::write`](super::Vault::write) starts with.

use serde::Serialize;

use super::{VaultError, Version};
use crate::CodecError;
use crate::capability::Capability;
use crate::time::{Clock, Timestamp};

/// The parts of a write that do not depend on the backend: the value as JSON, the
/// namespace the capability opens, the write time and the version the entry will carry.
pub(crate) struct WriteStart<'a> {
    /// The value, encoded as JSON.
    pub(crate) json: String,
    /// The namespace of the capability the write was called with.
    pub(crate) namespace: &'a str,
    /// The write time, by the vault's clock.
    pub(crate) now: Timestamp,
    /// A fresh random version for the entry.
    pub(crate) version: Version,
}

impl<'a> WriteStart<'a> {
    /// Encodes `value` (a failure is [`VaultError::Codec`]), reads `clock` and draws a new
    /// version, for a write under `token`.
    pub(crate) fn new<V: Serialize>(
        token: &'a dyn Capability,
        value: &V,
        clock: &dyn Clock,
    ) -> Result<Self, VaultError> {
        let json = serde_json::to_string(value)
            .map_err(|e| VaultError::Codec(Box::new(CodecError::encoding(&e))))?;
        Ok(Self {
            json,
            namespace: token.namespace().as_str(),
            now: clock.now(),
            version: Version::random(),
        })
    }
}
