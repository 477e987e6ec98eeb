//! [`PostgresVault`]: a [`Vault`] in the `vault` table of the store's schema.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::{AssertSqlSafe, PgPool};

use super::codec::ms;
use super::error::PgError;
use super::schema::{DEFAULT_SCHEMA, SchemaName, migrate};
use crate::CodecError;
use crate::capability::Capability;
use crate::store::StoreError;
use crate::time::{Clock, SystemClock, Timestamp};
use crate::vault::{
    Entry, Expect, Vault, VaultError, VaultScan, Version, WriteOptions, WriteStart,
};

/// A durable [`Vault`] shared by every replica on the same database and schema (feature
/// `postgres`): values as JSON, keyed by namespace and key, with write time, expiry and
/// version. Every write is one statement; a compare-and-swap is a conditional upsert
/// (`ON CONFLICT … DO UPDATE … WHERE version = $v`), atomic against every replica. Put it
/// under `EncryptedVault` (feature `encryption`) to keep values sealed at rest.
///
/// Uses the same schema (and [`migrate`]) as [`PostgresStore`](super::PostgresStore).
/// Cloning shares the pool.
///
/// ```no_run
/// # async fn run(pool: sqlx::PgPool) -> Result<(), oob::store::StoreError> {
/// use oob::vault::PostgresVault;
/// let vault = PostgresVault::<String>::new(pool, "oob")?;
/// vault.migrate().await?;
/// # Ok(()) }
/// ```
pub struct PostgresVault<V> {
    pool: PgPool,
    schema: SchemaName,
    sql: Arc<VaultSql>,
    clock: Arc<dyn Clock>,
    _value: PhantomData<fn() -> V>,
}

#[derive(Debug)]
struct VaultSql {
    upsert: Arc<str>,
    if_absent: Arc<str>,
    if_version: Arc<str>,
    current: Arc<str>,
    read: Arc<str>,
    delete: Arc<str>,
    delete_ended: Arc<str>,
    keys: Arc<str>,
    namespaces: Arc<str>,
    purge: Arc<str>,
}

/// A live entry at `$n` (the vault clock's now).
fn live(table: &str, n: &str) -> String {
    format!("({table}.expires_at IS NULL OR {table}.expires_at > {n})")
}

impl VaultSql {
    fn new(s: &str) -> Self {
        let a = |s: String| Arc::from(s.as_str());
        let insert = format!(
            "INSERT INTO {s}.vault AS v (namespace, key, value, written_at, expires_at, version) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (namespace, key) DO UPDATE SET \
             value = EXCLUDED.value, written_at = EXCLUDED.written_at, \
             expires_at = EXCLUDED.expires_at, version = EXCLUDED.version"
        );
        Self {
            upsert: a(insert.clone()),
            if_absent: a(format!(
                "{insert} WHERE NOT {} RETURNING 1",
                live("v", "$4")
            )),
            if_version: a(format!(
                "UPDATE {s}.vault v SET value = $3, written_at = $4, expires_at = $5, \
                 version = $6 WHERE v.namespace = $1 AND v.key = $2 AND v.version = $7 AND {}",
                live("v", "$4")
            )),
            current: a(format!(
                "SELECT v.version FROM {s}.vault v WHERE v.namespace = $1 AND v.key = $2 AND {}",
                live("v", "$3")
            )),
            read: a(format!(
                "SELECT v.value, v.written_at, v.expires_at, v.version FROM {s}.vault v \
                 WHERE v.namespace = $1 AND v.key = $2 AND {}",
                live("v", "$3")
            )),
            delete: a(format!(
                "DELETE FROM {s}.vault v WHERE v.namespace = $1 AND v.key = $2 RETURNING {}",
                live("v", "$3")
            )),
            // A write already expired, as one statement: delete what its condition admits
            // (`$3`: 'any', 'absent' or 'version'; `$4` the expected version; `$5` now).
            // 'absent' deletes only a dead row (a live one fails the condition).
            delete_ended: a(format!(
                "DELETE FROM {s}.vault v WHERE v.namespace = $1 AND v.key = $2 AND \
                 ($3 = 'any' OR ($3 = 'absent' AND NOT {live}) \
                  OR ($3 = 'version' AND v.version = $4 AND {live})) RETURNING 1",
                live = live("v", "$5")
            )),
            keys: a(format!(
                "SELECT v.key FROM {s}.vault v WHERE v.namespace = $1 AND {} ORDER BY v.key \
                 COLLATE \"C\"",
                live("v", "$2")
            )),
            namespaces: a(format!("SELECT DISTINCT v.namespace FROM {s}.vault v")),
            purge: a(format!(
                "DELETE FROM {s}.vault WHERE expires_at IS NOT NULL AND expires_at <= $1"
            )),
        }
    }
}

impl<V> std::fmt::Debug for PostgresVault<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresVault")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl<V> Clone for PostgresVault<V> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            schema: self.schema.clone(),
            sql: self.sql.clone(),
            clock: self.clock.clone(),
            _value: PhantomData,
        }
    }
}

impl<V> PostgresVault<V> {
    /// A vault on the service's pool, in `schema` (e.g. [`DEFAULT_SCHEMA`]).
    ///
    /// # Errors
    /// A bad schema name.
    pub fn new(pool: PgPool, schema: &str) -> Result<Self, StoreError> {
        let schema = SchemaName::new(schema).map_err(StoreError::backend)?;
        Ok(Self {
            pool,
            sql: Arc::new(VaultSql::new(schema.as_str())),
            schema,
            clock: Arc::new(SystemClock),
            _value: PhantomData,
        })
    }

    /// A vault in the default schema.
    #[must_use]
    pub fn with_default_schema(pool: PgPool) -> Self {
        let schema = SchemaName::default();
        Self {
            pool,
            sql: Arc::new(VaultSql::new(DEFAULT_SCHEMA)),
            schema,
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

    /// Creates or upgrades the schema (see [`migrate`]).
    ///
    /// # Errors
    /// The database failed, or the schema is newer than this build's.
    pub async fn migrate(&self) -> Result<i32, StoreError> {
        migrate(&self.pool, &self.schema).await
    }

    /// Deletes the entries that expired before now; returns how many (they already read as
    /// absent: this reclaims their space, through the expiry index).
    ///
    /// # Errors
    /// The database failed.
    pub async fn purge_expired(&self) -> Result<u64, VaultError> {
        let done = sqlx::query(AssertSqlSafe(self.sql.purge.clone()))
            .bind(ms(self.clock.now()))
            .execute(&self.pool)
            .await
            .map_err(PgError::vault)?;
        Ok(done.rows_affected())
    }

    fn q(sql: &Arc<str>) -> AssertSqlSafe<Arc<str>> {
        AssertSqlSafe(sql.clone())
    }
}

/// A time as Postgres stores it (milliseconds in a `bigint`). A negative one (a row edited by
/// hand) is a value that does not decode, not a failing backend: `Codec`.
fn ts(ms: i64) -> Result<Timestamp, VaultError> {
    u64::try_from(ms)
        .map(Timestamp::from_millis)
        .map_err(|_| VaultError::Codec(Box::new(PgError::Malformed("vault time"))))
}

impl<V> PostgresVault<V> {
    /// A write already expired when applied, as one conditional `DELETE` (the entry goes
    /// now, not at the next purge, and a write cannot apply without its delete).
    async fn write_ended(
        &self,
        ns: &str,
        key: &str,
        expect: Expect,
        version: Version,
        now: i64,
    ) -> Result<Version, VaultError> {
        let (mode, expected) = match expect {
            Expect::Any => ("any", None),
            Expect::Absent => ("absent", None),
            Expect::Version(v) => ("version", Some(Version::to_i64(v))),
        };
        let deleted = sqlx::query(Self::q(&self.sql.delete_ended))
            .bind(ns)
            .bind(key)
            .bind(mode)
            .bind(expected)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(PgError::vault)?
            .rows_affected();
        match expect {
            Expect::Version(_) if deleted == 0 => Err(self.conflict(ns, key, now).await),
            // 'absent': nothing live was there (or only a dead row, now gone).
            Expect::Absent => match self.current(ns, key, now).await? {
                None => Ok(version),
                Some(current) => Err(VaultError::Conflict {
                    current: Some(current),
                }),
            },
            _ => Ok(version),
        }
    }

    /// The live version of `key`, if any.
    async fn current(&self, ns: &str, key: &str, now: i64) -> Result<Option<Version>, VaultError> {
        let current: Option<i64> = sqlx::query_scalar(Self::q(&self.sql.current))
            .bind(ns)
            .bind(key)
            .bind(now)
            .fetch_optional(&self.pool)
            .await
            .map_err(PgError::vault)?;
        Ok(current.map(Version::from_i64))
    }

    /// The conflict of a write whose condition failed: nothing was written; what is there.
    async fn conflict(&self, ns: &str, key: &str, now: i64) -> VaultError {
        match self.current(ns, key, now).await {
            Ok(current) => VaultError::Conflict { current },
            Err(e) => e,
        }
    }
}

impl<V> Vault<V> for PostgresVault<V>
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
        let w = WriteStart::new(token, &value, &*self.clock)?;
        let (ns, now) = (w.namespace, ms(w.now));
        if options.expires_at.is_some_and(|e| ms(e) <= now) {
            return self
                .write_ended(ns, key, options.expect(), w.version, now)
                .await;
        }
        let (sql, expected) = match options.expect() {
            Expect::Absent => (&self.sql.if_absent, None),
            Expect::Version(v) => (&self.sql.if_version, Some(Version::to_i64(v))),
            Expect::Any => (&self.sql.upsert, None),
        };
        let mut query = sqlx::query(Self::q(sql))
            .bind(ns)
            .bind(key)
            .bind(w.json)
            .bind(now)
            .bind(options.expires_at.map(ms))
            .bind(Version::to_i64(w.version));
        if let Some(v) = expected {
            query = query.bind(v);
        }
        let done = query.execute(&self.pool).await.map_err(PgError::vault)?;
        if done.rows_affected() == 1 {
            return Ok(w.version);
        }
        Err(self.conflict(ns, key, now).await)
    }

    async fn read(
        &self,
        token: &dyn Capability,
        key: &str,
    ) -> Result<Option<Entry<V>>, VaultError> {
        crate::vault::check_key(key)?;
        let row: Option<(String, i64, Option<i64>, i64)> = sqlx::query_as(Self::q(&self.sql.read))
            .bind(token.namespace().as_str())
            .bind(key)
            .bind(ms(self.clock.now()))
            .fetch_optional(&self.pool)
            .await
            .map_err(PgError::vault)?;
        let Some((json, written, expires, version)) = row else {
            return Ok(None);
        };
        let value = serde_json::from_str(&json)
            .map_err(|e| VaultError::Codec(Box::new(CodecError::decoding(&e))))?;
        Ok(Some(Entry::at(
            value,
            ts(written)?,
            expires.map(ts).transpose()?,
            Version::from_i64(version),
        )))
    }

    async fn delete(&self, token: &dyn Capability, key: &str) -> Result<bool, VaultError> {
        crate::vault::check_key(key)?;
        let live: Option<bool> = sqlx::query_scalar(Self::q(&self.sql.delete))
            .bind(token.namespace().as_str())
            .bind(key)
            .bind(ms(self.clock.now()))
            .fetch_optional(&self.pool)
            .await
            .map_err(PgError::vault)?;
        Ok(live == Some(true))
    }

    async fn keys(&self, token: &dyn Capability) -> Result<Vec<String>, VaultError> {
        sqlx::query_scalar(Self::q(&self.sql.keys))
            .bind(token.namespace().as_str())
            .bind(ms(self.clock.now()))
            .fetch_all(&self.pool)
            .await
            .map_err(PgError::vault)
    }
}

impl<V> crate::vault::scan::private::Sealed for PostgresVault<V> {}

impl<V: 'static> VaultScan for PostgresVault<V> {
    async fn namespaces(&self) -> Result<crate::vault::Namespaces, VaultError> {
        let names: Vec<String> = sqlx::query_scalar(Self::q(&self.sql.namespaces))
            .fetch_all(&self.pool)
            .await
            .map_err(PgError::vault)?;
        Ok(crate::vault::Namespaces::from_names(names))
    }
}
