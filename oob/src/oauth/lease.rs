//! [`Held`]: the refresh lease this replica holds on a grant, and the writes made under it.
//!
//! A write under the lease is a compare-and-swap on the version the lease was written at.
//! A re-seal (key rotation, [`EncryptedVault::reseal`](crate::vault::EncryptedVault::reseal))
//! writes the same value again under a new version, so such a write is refused although the
//! lease is still this replica's. Each lease carries a random id: when the entry read back
//! is still this very lease, the write follows it to its new version. Dropping the refreshed
//! grant there would lose the refresh token the provider just rotated to, and another
//! replica would then spend the old one again.

use std::time::{Duration, SystemTime};

use super::tokens::TokenSet;
use crate::capability::NamespaceToken;
use crate::vault::{Vault, VaultError, Version, WriteOptions};

/// How many new versions of its own lease (re-seals) one write follows before it gives up
/// as if another writer had come (a rotation re-seals an entry once).
const MOVES: usize = 4;

/// The lease this replica wrote, at the version it holds it.
pub(super) struct Held {
    lease: TokenSet,
    version: Version,
}

impl Held {
    /// The lease `lease`, written at `version`.
    pub(super) fn new(lease: TokenSet, version: Version) -> Self {
        Self { lease, version }
    }

    /// The lease as written.
    pub(super) fn lease(&self) -> &TokenSet {
        &self.lease
    }

    /// Writes `value` if the entry is still this lease (`ends`: written as ended, so it
    /// reads as absent). [`VaultError::Conflict`] when another writer replaced the lease.
    pub(super) async fn write<V: Vault<TokenSet>>(
        &mut self,
        vault: &V,
        token: &NamespaceToken<'_>,
        key: &str,
        value: TokenSet,
        ends: bool,
    ) -> Result<Version, VaultError> {
        let mut moves = 0;
        loop {
            let options = if ends {
                ended(self.version)
            } else {
                WriteOptions::new().if_version(self.version)
            };
            let refused = match vault.write(token, key, value.clone(), options).await {
                Err(e @ VaultError::Conflict { .. }) => e,
                done => return done,
            };
            if moves == MOVES {
                return Err(refused);
            }
            match vault.read(token, key).await {
                Ok(Some(entry)) if *entry.value() == self.lease => {
                    self.version = entry.version();
                    moves += 1;
                }
                Ok(_) => return Err(refused),
                // Not known to be another writer's: the read's own failure, which a caller
                // storing a refreshed grant tries again (a conflict it would give up on).
                Err(e) => return Err(e),
            }
        }
    }
}

/// Stores a refreshed token set under the lease, trying again while the lease lasts when
/// the vault fails: the rotated refresh token exists nowhere else, and once the lease ends
/// another replica would spend the old one again. A conflict (another writer replaced the
/// lease: a new consent) is returned at once; a vault still failing at the end of the lease
/// is logged and given up (the lease then ends by itself).
pub(super) async fn store_refreshed<V: Vault<TokenSet>>(
    vault: &V,
    token: &NamespaceToken<'_>,
    key: &str,
    fresh: TokenSet,
    held: &mut Held,
    lease_end: tokio::time::Instant,
) -> Result<(), VaultError> {
    let mut pause = Duration::from_millis(50);
    loop {
        match held.write(vault, token, key, fresh.clone(), false).await {
            Ok(_) => return Ok(()),
            Err(e @ VaultError::Conflict { .. }) => return Err(e),
            Err(e) if tokio::time::Instant::now() + pause >= lease_end => {
                #[cfg(feature = "tracing")]
                tracing::error!(target: "oob", error = %e, "oauth: a refreshed grant could not be stored; its rotated refresh token is lost");
                return Err(e);
            }
            Err(_) => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
        }
    }
}

/// A write that ends the entry (it reads as absent from now on) if its version is still
/// `version`: a delete under a compare-and-swap, which the vault has no call for.
pub(super) fn ended(version: Version) -> WriteOptions {
    WriteOptions::new()
        .if_version(version)
        .expires_at(SystemTime::now())
}
