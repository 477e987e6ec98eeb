//! [`Vault`]: namespaced persistence of what out-of-band interactions obtain.
//!
//! Every operation, reads included, takes a [`Capability`]: the
//! [`NamespaceToken`](crate::NamespaceToken) of the call that won a completion (handed to the
//! persist step of [`Manager::complete_with`](crate::Manager::complete_with)) or of a
//! verified caller ([`Manager::caller`](crate::Manager::caller)). A
//! [`Namespace`](crate::Namespace) parsed from text opens nothing, so whatever a user's
//! interaction obtained can only be stored under, read from and deleted from that user's
//! namespace.
//!
//! Entries carry their value, when they were written, an optional expiry (an expired entry
//! reads as absent) and a [`Version`]; a write can be a compare-and-swap on the version
//! ([`WriteOptions::if_version`]), so two replicas refreshing the same token cannot lose one
//! another's write.

use std::future::Future;

use crate::capability::Capability;

#[cfg(feature = "encryption")]
mod encrypted;
mod entry;
mod erased;
mod key;
#[cfg(feature = "encryption")]
mod keyring;
mod memory;
#[cfg(feature = "encryption")]
mod reseal;
pub(crate) mod scan;
#[cfg(any(feature = "redis", feature = "postgres"))]
mod write_start;

#[cfg(feature = "encryption")]
pub use encrypted::{EncryptedVault, SealError, Sealed};
pub use entry::{Entry, Expect, Version, WriteOptions};
pub use erased::{BoxVault, DynVault};
pub(crate) use key::check as check_key;
pub use key::{KeyError, MAX_KEY_LEN};
#[cfg(feature = "encryption")]
pub use keyring::{KeyLength, KeyRing, RandomFailed, VaultKey};
pub use memory::MemoryVault;
#[cfg(feature = "encryption")]
pub use reseal::ResealReport;
pub use scan::{Namespaces, VaultScan};
#[cfg(any(feature = "redis", feature = "postgres"))]
pub(crate) use write_start::WriteStart;

#[cfg(feature = "postgres")]
pub use crate::store::postgres::PostgresVault;
#[cfg(feature = "redis")]
pub use crate::store::redis::RedisVault;
#[cfg(feature = "sqlite")]
pub use crate::store::sqlite::vault::SqliteVault;

/// A vault failure. The source chain is kept.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// A compare-and-swap write found another entry than it expected; nothing was written.
    #[error("the vault entry changed since it was read")]
    Conflict {
        /// The version of the live entry now (`None`: there is none).
        current: Option<Version>,
    },
    /// The key breaks the rule every vault checks ([`KeyError`]); nothing was read or
    /// written.
    #[error("invalid vault key")]
    Key(#[from] KeyError),
    /// The backend failed.
    #[error("vault backend error")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// A stored value could not be encoded or decoded.
    #[error("vault value could not be encoded or decoded")]
    Codec(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// A stored value could not be sealed or opened (wrong or unknown key, tampered value).
    #[error("vault value could not be sealed or opened")]
    Sealing(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// Values of type `V` stored per namespace and key, opened by a
/// [`NamespaceToken`](crate::NamespaceToken) (every method takes a [`Capability`], which only
/// a token is).
///
/// A key is any text of 1 to [`MAX_KEY_LEN`] bytes without control characters; every vault
/// refuses another with [`VaultError::Key`] in every operation (see [`KeyError`]), so a key
/// behaves the same on every backend.
///
/// ```
/// use oob::vault::{MemoryVault, Vault, WriteOptions};
/// # use oob::{CallbackBase, Manager, OobPayload, Spec};
/// # use oob::provider::{FromVerifiedSubject, VerifiedSubject};
/// # use oob::store::MemoryStore;
/// # #[derive(Clone, OobPayload)] #[oob(kind = "k", route = "/cb/{id}")] struct Key;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let manager = Manager::<Key, _, _>::builder().store(MemoryStore::new())
/// #     .provider(FromVerifiedSubject).callback_base(CallbackBase::parse("https://ex.com")?).build();
/// let alice = Some(VerifiedSubject::new("alice".parse()?));
/// let open = manager.create(&alice, Spec::new(Key)).await?;
///
/// // The callback's winning completion writes under the pending's namespace...
/// let vault = MemoryVault::<String>::new();
/// let writer = vault.clone();
/// manager
///     .complete_with(open, async move |token| writer.put(&token, "github", "gho_1".into()).await)
///     .await?;
///
/// // ...alice's next tool call reads it with her own capability; bob finds nothing.
/// let token = manager.caller(&alice)?;
/// let entry = vault.read(&token, "github").await?.expect("written");
/// assert_eq!(entry.value(), "gho_1");
/// let bob = Some(VerifiedSubject::new("bob".parse()?));
/// assert_eq!(vault.get(&manager.caller(&bob)?, "github").await?, None);
///
/// // A refresh replaces it only if nobody else did in between (compare-and-swap).
/// let refreshed = WriteOptions::new().if_version(entry.version());
/// vault.write(&token, "github", "gho_2".into(), refreshed).await?;
/// assert!(vault.write(&token, "github", "gho_3".into(), refreshed).await.is_err());
/// # Ok(()) }
/// ```
pub trait Vault<V>: Send + Sync + 'static {
    /// Writes `value` under the token's namespace and `key`, with `options` (expiry,
    /// compare-and-swap); returns the new entry's version. A compare-and-swap that finds
    /// another entry fails with [`VaultError::Conflict`] and writes nothing. Atomic.
    fn write(
        &self,
        token: &dyn Capability,
        key: &str,
        value: V,
        options: WriteOptions,
    ) -> impl Future<Output = Result<Version, VaultError>> + Send;

    /// The live entry under the token's namespace and `key` (`None` when absent or expired).
    fn read(
        &self,
        token: &dyn Capability,
        key: &str,
    ) -> impl Future<Output = Result<Option<Entry<V>>, VaultError>> + Send;

    /// Removes the entry under the token's namespace and `key`; whether there was a live one.
    fn delete(
        &self,
        token: &dyn Capability,
        key: &str,
    ) -> impl Future<Output = Result<bool, VaultError>> + Send;

    /// The keys of the token's namespace that have a live entry, sorted.
    fn keys(
        &self,
        token: &dyn Capability,
    ) -> impl Future<Output = Result<Vec<String>, VaultError>> + Send;

    /// Stores `value` under the token's namespace and `key`, replacing any previous value,
    /// with no expiry.
    fn put(
        &self,
        token: &dyn Capability,
        key: &str,
        value: V,
    ) -> impl Future<Output = Result<(), VaultError>> + Send {
        let write = self.write(token, key, value, WriteOptions::new());
        async move { write.await.map(|_| ()) }
    }

    /// The live value under the token's namespace and `key`.
    fn get(
        &self,
        token: &dyn Capability,
        key: &str,
    ) -> impl Future<Output = Result<Option<V>, VaultError>> + Send {
        let read = self.read(token, key);
        async move { Ok(read.await?.map(Entry::into_value)) }
    }
}
