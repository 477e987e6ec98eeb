//! Where the example keeps its state: the embedded SQLite store (the default) or Postgres
//! (`--store postgres`, the database named by `DATABASE_URL`). Both hold the pendings of
//! both interactions and, in their vaults, what the interactions obtained, sealed by an
//! `EncryptedVault` (XChaCha20-Poly1305) under a key that is not in the database:
//! `OOB_VAULT_KEY` (64 hex digits, from your secret store), or a key generated for this run
//! (what earlier runs stored then no longer opens).

use std::path::Path;

use oob::OobPayload;
use oob::oauth::{Consent, TokenSet};
use oob::store::{BoxStore, PostgresStore, SqliteStore};
use oob::vault::{BoxVault, EncryptedVault, KeyRing, PostgresVault, Sealed, SqliteVault, VaultKey};
use oob_examples::BoxError;
use serde::de::DeserializeOwned;

/// The `--store` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// `SqliteStore` and `SqliteVault` in a scratch directory (the default).
    Sqlite,
    /// `PostgresStore` and `PostgresVault` on a pool to `DATABASE_URL`.
    Postgres,
}

/// What `--store` accepts, for the usage line.
pub(crate) const USAGE: &str = " [--store sqlite|postgres]";

/// Takes `--store <backend>` out of `args`; `None` for an unknown backend or a missing
/// value.
pub(crate) fn take_store_flag(args: &mut Vec<String>) -> Option<Backend> {
    let Some(at) = args.iter().position(|a| a == "--store") else {
        return Some(Backend::Sqlite);
    };
    if at + 1 >= args.len() {
        return None;
    }
    let value = args.remove(at + 1);
    args.remove(at);
    match value.as_str() {
        "sqlite" => Some(Backend::Sqlite),
        "postgres" => Some(Backend::Postgres),
        _ => None,
    }
}

/// The stores and vaults of the example, whichever backend holds them.
pub(crate) struct Stores {
    /// The upstream-token pendings.
    pub(crate) tokens: BoxStore<crate::UpstreamToken>,
    /// The upstream tokens.
    pub(crate) token_vault: BoxVault<String>,
    /// The OAuth consent pendings.
    pub(crate) consents: BoxStore<Consent>,
    /// The OAuth token sets.
    pub(crate) grants: BoxVault<TokenSet>,
}

impl Backend {
    /// Opens (and for Postgres migrates) the stores: SQLite in `dir`, Postgres at
    /// `DATABASE_URL`.
    pub(crate) async fn open(self, dir: &Path) -> Result<Stores, BoxError> {
        let ring = key_ring()?;
        match self {
            Self::Sqlite => {
                let file = dir.join("oob.sqlite3");
                let tokens = SqliteStore::open(&file)?;
                let consents = SqliteStore::<Consent>::open(&file)?;
                let vault = SqliteVault::<Sealed>::from_store(&tokens);
                Ok(Stores {
                    token_vault: BoxVault::new(EncryptedVault::new(vault.clone(), ring.clone())),
                    grants: BoxVault::new(EncryptedVault::new(vault, ring)),
                    tokens: BoxStore::new(tokens),
                    consents: BoxStore::new(consents),
                })
            }
            Self::Postgres => {
                let url = std::env::var("DATABASE_URL")
                    .map_err(|_| "--store postgres needs DATABASE_URL (postgres://...)")?;
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(8)
                    .connect(&url)
                    .await?;
                let tokens = postgres::<crate::UpstreamToken>(&pool).await?;
                // Once at start-up: creates or upgrades the `oob` schema (pendings and vault).
                tokens.migrate().await?;
                let consents = postgres::<Consent>(&pool).await?;
                let vault = PostgresVault::<Sealed>::with_default_schema(pool);
                Ok(Stores {
                    tokens: BoxStore::new(tokens),
                    token_vault: BoxVault::new(EncryptedVault::new(vault.clone(), ring.clone())),
                    consents: BoxStore::new(consents),
                    grants: BoxVault::new(EncryptedVault::new(vault, ring)),
                })
            }
        }
    }
}

async fn postgres<T>(pool: &sqlx::PgPool) -> Result<PostgresStore<T>, BoxError>
where
    T: OobPayload + serde::Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
{
    Ok(PostgresStore::builder(pool.clone()).build().await?)
}

/// The vault's key ring: `OOB_VAULT_KEY` as key 1, or a key generated for this run. To
/// rotate (see `oob::vault::KeyRing`): first give every replica the new key as an old,
/// decrypt-only key (`KeyRing::with_old_key`), then make it the active key on every
/// replica, and only then `EncryptedVault::reseal_all` and drop the old key.
fn key_ring() -> Result<KeyRing, BoxError> {
    let key = match std::env::var("OOB_VAULT_KEY") {
        Ok(hex_key) => VaultKey::from_slice(
            &hex::decode(hex_key.trim()).map_err(|_| "OOB_VAULT_KEY must be 64 hex digits")?,
        )
        .map_err(|_| "OOB_VAULT_KEY must be 64 hex digits (32 bytes)")?,
        Err(_) => VaultKey::generate()?,
    };
    Ok(KeyRing::new(1, key))
}
