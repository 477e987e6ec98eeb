//! [`MemoryVault`]: an in-process [`Vault`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{Entry, Vault, VaultError, Version, WriteOptions};
use crate::capability::Capability;
use crate::namespace::Namespace;
use crate::time::{Clock, SystemClock};

type Map<V> = HashMap<Namespace, HashMap<String, Entry<V>>>;

/// An in-process [`Vault`]: one map per namespace behind a mutex. Cloning shares it.
/// Expired entries read as absent and are dropped when their key is next written or read
/// (an entry written already expired is not kept at all); one nothing touches again stays
/// in memory until [`purge_expired`](Self::purge_expired).
/// `Debug` prints no value and no namespace.
pub struct MemoryVault<V> {
    map: Arc<Mutex<Map<V>>>,
    clock: Arc<dyn Clock>,
}

impl<V> std::fmt::Debug for MemoryVault<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryVault").finish_non_exhaustive()
    }
}

impl<V> Clone for MemoryVault<V> {
    fn clone(&self) -> Self {
        Self {
            map: self.map.clone(),
            clock: self.clock.clone(),
        }
    }
}

impl<V> Default for MemoryVault<V> {
    fn default() -> Self {
        Self {
            map: Arc::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl<V> MemoryVault<V> {
    /// An empty vault on the system clock.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The clock expiry is decided by (e.g. a [`TokioClock`](crate::time::TokioClock) in
    /// tests).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Drops the entries that expired before now, and the namespaces left empty; returns
    /// how many entries. Expired entries already read as absent; this only reclaims their
    /// memory (call it from time to time, e.g. beside the manager's sweeper, as with the
    /// SQLite and Postgres vaults). It holds the vault's lock while it walks every entry.
    pub fn purge_expired(&self) -> usize {
        let now = self.clock.now();
        let mut map = self.lock();
        let mut dropped = 0;
        map.retain(|_, keys| {
            let before = keys.len();
            keys.retain(|_, e| !e.is_expired_at(now));
            dropped += before - keys.len();
            !keys.is_empty()
        });
        dropped
    }

    fn lock(&self) -> MutexGuard<'_, Map<V>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<V: Clone + Send + Sync + 'static> Vault<V> for MemoryVault<V> {
    async fn write(
        &self,
        token: &dyn Capability,
        key: &str,
        value: V,
        options: WriteOptions,
    ) -> Result<Version, VaultError> {
        super::check_key(key)?;
        let now = self.clock.now();
        let mut map = self.lock();
        let ns = token.namespace();
        let current = map
            .get(ns)
            .and_then(|keys| keys.get(key))
            .filter(|e| !e.is_expired_at(now))
            .map(Entry::version);
        if !options.expect.admits(current) {
            return Err(VaultError::Conflict { current });
        }
        let version = Version::random();
        let entry = Entry::at(value, now, options.expires_at, version);
        if entry.is_expired_at(now) {
            // Written already expired (an entry ended under a compare-and-swap): nothing to
            // keep.
            if let Some(keys) = map.get_mut(ns) {
                keys.remove(key);
                if keys.is_empty() {
                    map.remove(ns);
                }
            }
        } else {
            map.entry(ns.clone())
                .or_default()
                .insert(key.to_owned(), entry);
        }
        Ok(version)
    }

    async fn read(
        &self,
        token: &dyn Capability,
        key: &str,
    ) -> Result<Option<Entry<V>>, VaultError> {
        super::check_key(key)?;
        let now = self.clock.now();
        let mut map = self.lock();
        let Some(keys) = map.get_mut(token.namespace()) else {
            return Ok(None);
        };
        match keys.get(key) {
            Some(e) if e.is_expired_at(now) => {
                keys.remove(key);
                if keys.is_empty() {
                    map.remove(token.namespace());
                }
                Ok(None)
            }
            found => Ok(found.cloned()),
        }
    }

    async fn delete(&self, token: &dyn Capability, key: &str) -> Result<bool, VaultError> {
        super::check_key(key)?;
        let now = self.clock.now();
        let mut map = self.lock();
        let Some(keys) = map.get_mut(token.namespace()) else {
            return Ok(false);
        };
        let removed = keys.remove(key).is_some_and(|e| !e.is_expired_at(now));
        if keys.is_empty() {
            map.remove(token.namespace());
        }
        Ok(removed)
    }

    async fn keys(&self, token: &dyn Capability) -> Result<Vec<String>, VaultError> {
        let now = self.clock.now();
        let map = self.lock();
        let mut keys: Vec<String> = map
            .get(token.namespace())
            .map(|m| {
                m.iter()
                    .filter(|(_, e)| !e.is_expired_at(now))
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        keys.sort_unstable();
        Ok(keys)
    }
}

impl<V> super::scan::private::Sealed for MemoryVault<V> {}

impl<V: Send + Sync + 'static> super::VaultScan for MemoryVault<V> {
    async fn namespaces(&self) -> Result<crate::vault::Namespaces, VaultError> {
        let mut listed: Vec<Namespace> = self.lock().keys().cloned().collect();
        listed.sort_unstable();
        Ok(crate::vault::Namespaces {
            listed,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::capability::NamespaceToken;

    const ONE_SEC: std::time::Duration = std::time::Duration::from_secs(1);

    /// Nothing is kept for an entry written already expired, nor for a namespace whose only
    /// write failed its compare-and-swap.
    #[tokio::test]
    async fn ended_entries_and_refused_writes_leave_nothing() {
        let vault = MemoryVault::<u8>::new();
        let token = NamespaceToken::new(Namespace::new("a").expect("namespace"));
        let v = vault
            .write(&token, "k", 1, WriteOptions::new())
            .await
            .expect("write");
        let ended = WriteOptions::new()
            .if_version(v)
            .expires_at(SystemTime::now());
        vault.write(&token, "k", 2, ended).await.expect("ended");
        assert!(
            vault.lock().is_empty(),
            "the ended entry and its namespace are gone"
        );
        let other = NamespaceToken::new(Namespace::new("b").expect("namespace"));
        let refused = vault
            .write(&other, "k", 1, WriteOptions::new().if_version(v))
            .await;
        assert!(matches!(
            refused,
            Err(VaultError::Conflict { current: None })
        ));
        assert!(
            vault.lock().is_empty(),
            "no empty namespace for a refused write"
        );
    }

    /// `purge_expired` drops exactly the expired entries and the namespaces they empty.
    #[tokio::test(start_paused = true)]
    async fn purge_drops_only_expired_entries() {
        let clock = crate::time::TokioClock::new();
        let vault = MemoryVault::<u8>::new().with_clock(clock);
        let (a, b) = (
            NamespaceToken::new(Namespace::new("a").expect("namespace")),
            NamespaceToken::new(Namespace::new("b").expect("namespace")),
        );
        let soon = WriteOptions::new().expires_at(clock.now().to_system_time() + ONE_SEC);
        vault.write(&a, "gone", 1, soon).await.expect("write");
        vault
            .write(&a, "kept", 2, WriteOptions::new())
            .await
            .expect("write");
        vault.write(&b, "gone", 3, soon).await.expect("write");
        assert_eq!(vault.purge_expired(), 0, "nothing expired yet");
        tokio::time::advance(ONE_SEC).await;
        assert_eq!(vault.purge_expired(), 2);
        let map = vault.lock();
        assert_eq!(map.len(), 1, "b's only entry expired: its map is gone");
        assert_eq!(map[a.namespace()].len(), 1);
    }
}
