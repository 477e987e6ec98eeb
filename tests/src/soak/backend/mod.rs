//! Per-backend set-up: the stores and vaults of every replica, the fault task, and what the
//! backend promises about acknowledged writes.

mod local;
mod net;

use super::config::{Backend, Config};
use super::report::StoreReport;
use super::sqlite_kill;

/// Runs the soak on `backend`.
///
/// # Errors
/// The backend could not be set up, or a task panicked.
pub async fn run(backend: Backend, cfg: &Config) -> Result<StoreReport, String> {
    match backend {
        Backend::Memory => local::memory(cfg).await,
        Backend::Slow => local::slow(cfg).await,
        Backend::Sqlite => local::sqlite(cfg).await,
        Backend::SqliteKill => sqlite_kill::run(cfg).await,
        Backend::Postgres => net::postgres(cfg).await,
        Backend::Redis => net::redis(cfg).await,
        Backend::RedisCluster => net::redis_cluster(cfg).await,
    }
}

/// The report's heading line for a backend.
fn report(backend: Backend, cfg: &Config, vault: &str, durability: &str) -> StoreReport {
    StoreReport {
        name: backend.name(),
        setup: format!(
            "{} replicas, {} users, vault: {vault}",
            cfg.replicas, cfg.users
        ),
        durability: durability.into(),
        ..StoreReport::default()
    }
}
