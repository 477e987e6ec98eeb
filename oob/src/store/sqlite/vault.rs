//! [`SqliteVault`]: a [`Vault`] in a SQLite file (feature `sqlite`).

use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Db, SqliteOptions, SqliteStore};
use crate::CodecError;
use crate::capability::Capability;
use crate::store::StoreError;
use crate::time::{Clock, SystemClock, Timestamp};
use crate::vault::{Entry, Vault, VaultError, VaultScan, Version, WriteOptions};

/// A durable [`Vault`]: values stored as JSON in the `oob_vault` table of a SQLite file,
/// keyed by namespace and key, with their write time, expiry and version; a
/// compare-and-swap write reads and writes in one job on the connection thread. Every operation takes a [`NamespaceToken`](crate::NamespaceToken) (a winning
/// completion's or a verified caller's), so a value can only be written or read under the
/// namespace of the user it belongs to.
///
/// It can share the file and connection thread of a [`SqliteStore`]
/// ([`from_store`](Self::from_store)); the same durability settings then apply. Cloning
/// shares the connection.
///
/// ```
/// use oob::vault::{SqliteVault, Vault};
/// # use oob::{CallbackBase, Manager, OobPayload, Spec, provider::FixedNamespace, store::MemoryStore};
/// # #[derive(Clone, OobPayload)] #[oob(kind = "k", route = "/cb/{id}")] struct Key;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let manager = Manager::<Key, _, _>::builder().store(MemoryStore::new())
/// #     .provider(FixedNamespace::new("alice".parse()?)).callback_base(CallbackBase::parse("https://ex.com")?).build();
/// # let open = manager.create(&(), Spec::new(Key)).await?;
/// let vault = SqliteVault::<String>::open_in_memory()?;
/// let writer = vault.clone();
/// manager
///     .complete_with(open, async move |token| writer.put(&token, "github", "gho_secret".into()).await)
///     .await?;
/// let alice = manager.caller(&())?;
/// assert_eq!(vault.get(&alice, "github").await?.as_deref(), Some("gho_secret"));
/// # Ok(()) }
/// ```
pub struct SqliteVault<V> {
    db: Db,
    clock: Arc<dyn Clock>,
    _value: PhantomData<fn() -> V>,
}

impl<V> std::fmt::Debug for SqliteVault<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteVault").finish_non_exhaustive()
    }
}

impl<V> Clone for SqliteVault<V> {
    fn clone(&self) -> Self {
        Self {
            db: self.db.clone(),
            clock: self.clock.clone(),
            _value: PhantomData,
        }
    }
}

impl<V> SqliteVault<V> {
    /// Opens (creating if needed) the database file at `path` with default options.
    /// Blocks the calling thread while it opens.
    ///
    /// # Errors
    /// The file cannot be opened, or its schema is newer than this build's.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Like [`open`](Self::open), with options.
    ///
    /// # Errors
    /// The file cannot be opened, or its schema is newer than this build's.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, StoreError> {
        Ok(Self {
            db: Db::open(Some(path.as_ref()), options)?,
            clock: Arc::new(SystemClock),
            _value: PhantomData,
        })
    }

    /// A private in-memory database (for tests).
    ///
    /// # Errors
    /// SQLite could not be initialised.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Ok(Self {
            db: Db::open(None, SqliteOptions::default())?,
            clock: Arc::new(SystemClock),
            _value: PhantomData,
        })
    }

    /// A vault in the same database as `store`, sharing its connection thread.
    #[must_use]
    pub fn from_store<T>(store: &SqliteStore<T>) -> Self {
        Self {
            db: store.db().clone(),
            clock: Arc::new(SystemClock),
            _value: PhantomData,
        }
    }

    /// The clock expiry is decided by (e.g. a [`TokioClock`](crate::time::TokioClock) in
    /// tests).
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Deletes the entries that expired before now; returns how many. Expired entries
    /// already read as absent; this only reclaims their space (call it from time to time,
    /// e.g. beside the manager's sweeper).
    ///
    /// # Errors
    /// The database failed.
    pub async fn purge_expired(&self) -> Result<usize, VaultError> {
        let now = ms(self.clock.now());
        self.db
            .call(None, move |conn, _| {
                conn.prepare_cached("DELETE FROM oob_vault WHERE expires_at <= ?1")?
                    .execute(params![now])
            })
            .await
            .map_err(backend)
    }
}

/// A vault row as read: value, write time, expiry, version.
type Row = (String, i64, Option<i64>, i64);

fn backend(e: StoreError) -> VaultError {
    VaultError::Backend(Box::new(e))
}

/// A version as SQLite stores it (the same 64 bits as an `INTEGER`).
fn ms(t: Timestamp) -> i64 {
    i64::try_from(t.as_millis()).unwrap_or(i64::MAX)
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(u64::try_from(ms).unwrap_or(0))
}

impl<V> Vault<V> for SqliteVault<V>
where
    V: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    async fn write(
        &self,
        token: &dyn Capability,
        key: &str,
        value: V,
        options: WriteOptions,
    ) -> Result<Version, VaultError> {
        crate::vault::check_key(key)?;
        let json = serde_json::to_string(&value)
            .map_err(|e| VaultError::Codec(Box::new(CodecError::encoding(&e))))?;
        let ns = token.namespace().as_str().to_owned();
        let key = key.to_owned();
        let now = ms(self.clock.now());
        let expires = options.expires_at.map(ms);
        let expect = options.expect;
        let version = Version::random();
        // Read and write in one job on the connection thread: atomic against every other.
        let outcome = self
            .db
            .call(None, move |conn, _| {
                let current: Option<rusqlite::types::Value> = conn
                    .prepare_cached(
                        "SELECT version FROM oob_vault WHERE namespace = ?1 AND key = ?2 \
                         AND (expires_at IS NULL OR expires_at > ?3)",
                    )?
                    .query_row(params![ns, key, now], |r| r.get(0))
                    .optional()?;
                // A version that is not an integer (a row edited by hand) reads as version
                // 0: the row is there, and a compare-and-swap on what a conflict reported
                // can still replace or end it.
                let current = current.map(|v| match v {
                    rusqlite::types::Value::Integer(v) => Version::from_i64(v),
                    _ => Version::from_i64(0),
                });
                if !expect.admits(current) {
                    return Ok(Err(current));
                }
                // Written already expired (a delete under a compare-and-swap): the row goes
                // now, not at the next purge.
                if expires.is_some_and(|e| e <= now) {
                    conn.prepare_cached("DELETE FROM oob_vault WHERE namespace = ?1 AND key = ?2")?
                        .execute(params![ns, key])?;
                    return Ok(Ok(()));
                }
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO oob_vault \
                     (namespace, key, value, written_at, expires_at, version) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    ns,
                    key,
                    json,
                    now,
                    expires,
                    Version::to_i64(version)
                ])?;
                Ok(Ok(()))
            })
            .await
            .map_err(backend)?;
        outcome.map_err(|current| VaultError::Conflict { current })?;
        Ok(version)
    }

    async fn read(
        &self,
        token: &dyn Capability,
        key: &str,
    ) -> Result<Option<Entry<V>>, VaultError> {
        crate::vault::check_key(key)?;
        let ns = token.namespace().as_str().to_owned();
        let key = key.to_owned();
        let now = ms(self.clock.now());
        // A row whose columns are not of the types the vault writes (a value that is not
        // text: edited by hand, or corrupted) is a value that does not decode, not a failing
        // backend: `Codec`, as for text that is not the value's JSON.
        let row: Option<rusqlite::Result<Row>> = self
            .db
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT value, written_at, expires_at, version FROM oob_vault \
                     WHERE namespace = ?1 AND key = ?2 AND (expires_at IS NULL OR expires_at > ?3)",
                )?
                .query_row(params![ns, key, now], |r| {
                    Ok((|| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))())
                })
                .optional()
            })
            .await
            .map_err(backend)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let (json, written, expires, version) = row.map_err(|e| VaultError::Codec(Box::new(e)))?;
        let value = serde_json::from_str(&json)
            .map_err(|e| VaultError::Codec(Box::new(CodecError::decoding(&e))))?;
        Ok(Some(Entry::at(
            value,
            ts(written),
            expires.map(ts),
            Version::from_i64(version),
        )))
    }

    async fn delete(&self, token: &dyn Capability, key: &str) -> Result<bool, VaultError> {
        crate::vault::check_key(key)?;
        let ns = token.namespace().as_str().to_owned();
        let key = key.to_owned();
        let now = ms(self.clock.now());
        let live = self
            .db
            .call(None, move |conn, _| {
                conn.prepare_cached(
                    "DELETE FROM oob_vault WHERE namespace = ?1 AND key = ?2 \
                     RETURNING expires_at IS NULL OR expires_at > ?3",
                )?
                .query_row(params![ns, key, now], |r| r.get::<_, bool>(0))
                .optional()
            })
            .await
            .map_err(backend)?;
        Ok(live == Some(true))
    }

    async fn keys(&self, token: &dyn Capability) -> Result<Vec<String>, VaultError> {
        let ns = token.namespace().as_str().to_owned();
        let now = ms(self.clock.now());
        self.db
            .read(move |conn| {
                conn.prepare_cached(
                    "SELECT key FROM oob_vault WHERE namespace = ?1 AND typeof(key) = 'text' \
                     AND (expires_at IS NULL OR expires_at > ?2) ORDER BY key",
                )?
                .query_map(params![ns, now], |r| r.get(0))?
                .collect()
            })
            .await
            .map_err(backend)
    }
}

impl<V> crate::vault::scan::private::Sealed for SqliteVault<V> {}

impl<V: 'static> VaultScan for SqliteVault<V> {
    async fn namespaces(&self) -> Result<crate::vault::Namespaces, VaultError> {
        let names: Vec<String> = self
            .db
            .read(|conn| {
                // (A key or namespace that is not text, written by hand, names nothing a
                // vault call can take: left out.)
                conn.prepare_cached(
                    "SELECT DISTINCT namespace FROM oob_vault WHERE typeof(namespace) = 'text' \
                     ORDER BY namespace",
                )?
                .query_map([], |r| r.get(0))?
                .collect()
            })
            .await
            .map_err(backend)?;
        Ok(crate::vault::Namespaces::from_names(names))
    }
}
