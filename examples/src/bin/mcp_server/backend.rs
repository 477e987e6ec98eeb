//! Where the example keeps its state: the embedded SQLite store (the default) or Postgres
//! (`--store postgres`, the database named by `DATABASE_URL`). Both hold the pendings of
//! both interactions and, in their vaults, what the interactions obtained.

use std::path::Path;

use oob::OobPayload;
use oob::oauth::{Consent, TokenSet};
use oob::store::{BoxStore, PostgresStore, SqliteStore};
use oob::vault::{BoxVault, PostgresVault, SqliteVault};
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
        match self {
            Self::Sqlite => {
                let file = dir.join("oob.sqlite3");
                let tokens = SqliteStore::open(&file)?;
                let consents = SqliteStore::<Consent>::open(&file)?;
                Ok(Stores {
                    token_vault: BoxVault::new(SqliteVault::from_store(&tokens)),
                    grants: BoxVault::new(SqliteVault::from_store(&consents)),
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
                Ok(Stores {
                    tokens: BoxStore::new(tokens),
                    token_vault: BoxVault::new(PostgresVault::with_default_schema(pool.clone())),
                    consents: BoxStore::new(consents),
                    grants: BoxVault::new(PostgresVault::with_default_schema(pool)),
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
