//! The path the vault module names [`RedisVault`] by; it lives in the Redis store's folder.

pub use super::redis::vault::RedisVault;
