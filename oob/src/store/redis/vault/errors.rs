//! How the vault's failures become [`VaultError`]s: a failing server is `Backend`, an entry
//! the vault cannot read (edited by hand, or written by something else) is `Codec`.

use redis::RedisError;

use super::super::RedisStoreError;
use crate::vault::VaultError;

/// A failing server (or connection).
pub(super) fn backend(e: RedisError) -> VaultError {
    VaultError::Backend(Box::new(RedisStoreError::of(e)))
}

/// A reply of a shape the vault's scripts never give.
pub(super) fn malformed(what: &'static str) -> VaultError {
    VaultError::Backend(Box::new(RedisStoreError::Malformed(what)))
}

/// The refusal of a prefix without a hash tag on a cluster.
pub(super) fn untagged() -> RedisStoreError {
    RedisStoreError::Config("on a cluster the prefix needs a hash tag, e.g. {oob}:")
}

/// A number field of an entry (a time, a version), in the digits the vault writes. One that
/// does not parse, or not in that form (`007`, `+7`: an entry edited by hand, whose version
/// no compare-and-swap, a comparison of the text, would ever match) is a value that does
/// not decode, not a failing backend: `Codec`.
pub(super) fn parse_u64(v: &str, what: &'static str) -> Result<u64, VaultError> {
    v.parse::<u64>()
        .ok()
        .filter(|n| n.to_string() == v)
        .ok_or_else(|| VaultError::Codec(Box::new(RedisStoreError::Malformed(what))))
}

/// A failed read of one entry: a key of another type (`WRONGTYPE`) or fields that are not
/// text (an entry edited by hand) are a value that does not decode (`Codec`), anything
/// else the backend's failure.
pub(super) fn entry_error(e: RedisError) -> VaultError {
    if e.kind() == redis::ErrorKind::UnexpectedReturnType || e.code() == Some("WRONGTYPE") {
        VaultError::Codec(Box::new(RedisStoreError::of(e)))
    } else {
        backend(e)
    }
}
