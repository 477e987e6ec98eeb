//! [`SqliteVault`]: a [`Vault`] in a SQLite file (feature `sqlite`).

use std::marker::PhantomData;
use std::path::Path;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::StoreError;
use super::sqlite::{Db, SqliteOptions, SqliteStore};
use crate::capability::Capability;
use crate::vault::{Vault, VaultError};

/// A durable [`Vault`]: values stored as JSON in the `oob_vault` table of a SQLite file,
/// keyed by namespace and key. Every operation takes a [`NamespaceToken`](crate::NamespaceToken) (a winning
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
            _value: PhantomData,
        })
    }

    /// A vault in the same database as `store`, sharing its connection thread.
    #[must_use]
    pub fn from_store<T>(store: &SqliteStore<T>) -> Self {
        Self {
            db: store.db().clone(),
            _value: PhantomData,
        }
    }
}

fn backend(e: StoreError) -> VaultError {
    VaultError::Backend(Box::new(e))
}

impl<V> Vault<V> for SqliteVault<V>
where
    V: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    async fn put(&self, token: &dyn Capability, key: &str, value: V) -> Result<(), VaultError> {
        let json =
            serde_json::to_string(&value).map_err(|e| backend(StoreError::Encode(Box::new(e))))?;
        let ns = token.namespace().as_str().to_owned();
        let key = key.to_owned();
        self.db
            .call(None, move |conn, _| {
                conn.prepare_cached(
                    "INSERT OR REPLACE INTO oob_vault (namespace, key, value) VALUES (?1, ?2, ?3)",
                )?
                .execute(params![ns, key, json])?;
                Ok(())
            })
            .await
            .map_err(backend)
    }

    async fn get(&self, token: &dyn Capability, key: &str) -> Result<Option<V>, VaultError> {
        let ns = token.namespace().as_str().to_owned();
        let key = key.to_owned();
        let json: Option<String> = self
            .db
            .call(None, move |conn, _| {
                conn.prepare_cached(
                    "SELECT value FROM oob_vault WHERE namespace = ?1 AND key = ?2",
                )?
                .query_row(params![ns, key], |r| r.get(0))
                .optional()
            })
            .await
            .map_err(backend)?;
        json.map(|j| serde_json::from_str(&j).map_err(|e| backend(StoreError::Decode(Box::new(e)))))
            .transpose()
    }

    async fn delete(&self, token: &dyn Capability, key: &str) -> Result<bool, VaultError> {
        let ns = token.namespace().as_str().to_owned();
        let key = key.to_owned();
        let n = self
            .db
            .call(None, move |conn, _| {
                conn.prepare_cached("DELETE FROM oob_vault WHERE namespace = ?1 AND key = ?2")?
                    .execute(params![ns, key])
            })
            .await
            .map_err(backend)?;
        Ok(n > 0)
    }
}
