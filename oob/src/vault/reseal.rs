//! Key rotation on an [`EncryptedVault`]: [`reseal`](EncryptedVault::reseal) one entry, or
//! [`reseal_all`](EncryptedVault::reseal_all) of them.

use super::{EncryptedVault, Sealed, Vault, VaultError, VaultScan, WriteOptions};
use crate::capability::{Capability, NamespaceToken};

/// What [`EncryptedVault::reseal_all`] did, entry by entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResealReport {
    /// Entries re-sealed under the active key.
    pub resealed: u64,
    /// Entries already sealed under the active key, or gone before they were read.
    pub skipped: u64,
    /// Entries written (or deleted) by someone else between the read and the re-seal: a
    /// compare-and-swap refused the re-seal. A replica that writes seals with the active key
    /// once phase 2 of the rotation is done (see [`KeyRing`](super::KeyRing)), so such an
    /// entry is under the active key anyway; run again to make sure.
    pub conflicts: u64,
    /// Entries that did not open (a key the ring does not hold, or a tampered or moved
    /// value): left as they are. Do not drop an old key while any remain.
    pub unopened: u64,
    /// Entries under a key that breaks the key rule ([`KeyError`](super::KeyError): an
    /// empty key or one with a control character, which vaults took before 2026-12-07):
    /// no vault operation reads, writes or deletes them any more, so they are left as they
    /// are and do not keep an old key in the ring (nothing can open them through the vault
    /// either way). Remove them from the database by hand. (A key or namespace that is not
    /// text at all, a SQLite blob or a Redis index member that is not UTF-8, is not even
    /// listed, so not counted.)
    pub unreachable: u64,
    /// Namespaces holding entries under a name the [`Namespace`](crate::Namespace) rule
    /// refuses ([`Namespaces::refused`](super::Namespaces::refused)): like
    /// [`unreachable`](Self::unreachable) entries, out of every vault operation's reach and
    /// left as they are (their entries are not counted: nothing can list them).
    pub unreachable_namespaces: u64,
    /// Entries that are not sealed values at all (they do not decode as [`Sealed`]): a
    /// plain vault's entries in the same SQLite file, Postgres schema or Redis prefix (vaults
    /// there share one table or key space, whatever their value type), plaintext written
    /// before encryption was turned on, or rows the vault cannot read (a column of another
    /// type, a time that does not parse: edited by hand or corrupted). Left as they are; no
    /// key opens them, so they do not keep an old key in the ring, and the run goes on past
    /// them. Give each vault its own file, schema or prefix.
    pub not_sealed: u64,
}

impl ResealReport {
    /// Whether every entry the run saw is now under the active key (nothing re-sealed
    /// concurrently, nothing left unopened): the old keys can leave the ring once a run
    /// reports this and every replica seals with the active key.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.conflicts == 0 && self.unopened == 0
    }
}

impl<V, I: Vault<Sealed>> EncryptedVault<V, I> {
    /// Re-seals the entry under `key` with the ring's active key, if another key sealed it
    /// (key rotation). It re-seals the stored plaintext bytes as they are (nothing is
    /// decoded, so fields `V` does not know are kept), under a compare-and-swap on the
    /// version read, keeping the expiry. Returns whether it re-sealed.
    ///
    /// A re-seal is a write: the entry gets a new version, so a writer holding the version
    /// read before (an OAuth refresh's final compare-and-swap) gets
    /// [`VaultError::Conflict`] and must read again. Re-seal only once every replica seals
    /// with the new key (phase 3 of the rotation in [`KeyRing`](super::KeyRing)).
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

impl<V, I: Vault<Sealed> + VaultScan> EncryptedVault<V, I> {
    /// Re-seals every entry of every namespace that another key than the active one sealed
    /// ([`reseal`](Self::reseal) on each), for an operator's rotation job: it needs no
    /// caller, and returns only counts (no value, no namespace, no capability).
    ///
    /// Run it in phase 3 of the rotation (see [`KeyRing`](super::KeyRing)), once every
    /// replica seals with the new key; drop the old key once a run
    /// [`is_complete`](ResealReport::is_complete). Entries written
    /// concurrently are counted as [`conflicts`](ResealReport::conflicts) and left to their
    /// writer; entries that do not open, or are not sealed values at all, are counted and
    /// left as they are.
    ///
    /// # Errors
    /// The inner vault failed (what was re-sealed before stays re-sealed; a row it cannot
    /// read is counted in [`not_sealed`](ResealReport::not_sealed), not an error).
    pub async fn reseal_all(&self) -> Result<ResealReport, VaultError> {
        let mut report = ResealReport::default();
        let found = self.inner().namespaces().await?;
        report.unreachable_namespaces = found.refused;
        for namespace in found.listed {
            // The vault's own walk over what it holds: the token never leaves this crate's
            // code (`VaultScan` is sealed, so `I` is one of this crate's vaults).
            let token = NamespaceToken::new(namespace);
            for key in self.inner().keys(&token).await? {
                match self.reseal(&token, &key).await {
                    Ok(true) => report.resealed += 1,
                    Ok(false) => report.skipped += 1,
                    Err(VaultError::Conflict { .. }) => report.conflicts += 1,
                    Err(VaultError::Sealing(_)) => report.unopened += 1,
                    Err(VaultError::Key(_)) => report.unreachable += 1,
                    Err(VaultError::Codec(_)) => report.not_sealed += 1,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(report)
    }
}
