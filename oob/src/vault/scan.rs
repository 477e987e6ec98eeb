//! [`VaultScan`]: the namespaces a vault holds entries for, for an operator's walk over
//! every entry ([`EncryptedVault::reseal_all`](super::EncryptedVault::reseal_all)).

use std::future::Future;

use super::VaultError;
use crate::namespace::Namespace;

/// The seal: only this crate's vaults list their namespaces.
pub(crate) mod private {
    /// Implemented by this crate's vaults only.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot list a vault's namespaces: `VaultScan` is sealed",
        label = "not one of `oob::vault::{{MemoryVault, SqliteVault, PostgresVault, RedisVault}}`",
        note = "`EncryptedVault::reseal_all` opens every namespace a `VaultScan` lists and hands its capability to that vault; only this crate's vaults may receive it"
    )]
    pub trait Sealed {}
}

/// A vault that lists the namespaces it holds entries for: [`MemoryVault`](super::MemoryVault),
/// `SqliteVault`, `PostgresVault` and `RedisVault` (features `sqlite`, `postgres`, `redis`;
/// sealed: no other type implements it).
///
/// A [`Namespace`] opens nothing, so the list gives no access to any entry. It is what
/// `EncryptedVault::reseal_all` (feature `encryption`) walks; that walk opens
/// each namespace inside this crate only, which is why the trait is sealed: a vault written
/// elsewhere could name any namespace and be handed its capability.
pub trait VaultScan: private::Sealed + Send + Sync + 'static {
    /// Every namespace that holds an entry, sorted, each once. One whose entries all
    /// expired may still be listed until they are removed. Its cost grows with the number
    /// of namespaces (a walk for maintenance jobs, not for requests).
    fn namespaces(&self) -> impl Future<Output = Result<Namespaces, VaultError>> + Send;
}

/// What [`VaultScan::namespaces`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Namespaces {
    /// The namespaces holding entries, sorted, each once.
    pub listed: Vec<Namespace>,
    /// Stored namespace names the [`Namespace`] rule refuses (written before it refused,
    /// e.g., text-reordering characters, refused since 2026-12-07): no capability can name
    /// them, so their entries are out of every vault operation's reach; remove them by hand.
    pub refused: u64,
}

#[cfg(any(feature = "sqlite", feature = "redis", feature = "postgres"))]
impl Namespaces {
    /// The stored `names`, parsed: sorted, each once, the refused ones counted.
    pub(crate) fn from_names<N: AsRef<str>>(names: impl IntoIterator<Item = N>) -> Self {
        let mut found = Self::default();
        for name in names {
            match Namespace::new(name.as_ref()) {
                Ok(ns) => found.listed.push(ns),
                Err(_) => found.refused += 1,
            }
        }
        found.listed.sort_unstable();
        found.listed.dedup();
        found
    }
}
