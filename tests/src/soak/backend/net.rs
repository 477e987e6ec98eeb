//! The server backends: Postgres, Redis standalone, Redis Cluster, each started here on a
//! free loopback port (with `CI` set a missing server fails the run; otherwise the backend
//! is reported as skipped).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oob::provider::VerifiedSubject;
use oob::store::{RedisStore, RedisTarget};
use oob::vault::{MemoryVault, PostgresVault, RedisVault};
use oob::{Namespace, PendingId};

use super::report;
use crate::postgres_server::{PostgresServer, fresh_schema};
use crate::redis_cluster::{RedisCluster, key_slot};
use crate::redis_server::RedisServer;
use crate::soak::config::{Backend, Config};
use crate::soak::faults;
use crate::soak::invariants::Invariant;
use crate::soak::report::StoreReport;
use crate::soak::run::soak;
use crate::soak::workload::{Load, RETENTION};
use crate::{DeviceCode, spec};

pub(super) async fn postgres(cfg: &Config) -> Result<StoreReport, String> {
    let Some(server) = PostgresServer::start() else {
        return Ok(StoreReport::skipped(
            Backend::Postgres.name(),
            "Postgres is not installed",
        ));
    };
    let schema = fresh_schema();
    let (mut stores, mut vaults) = (Vec::new(), Vec::new());
    for _ in 0..cfg.replicas {
        let pool = server.pool(16).await;
        stores.push(PostgresServer::store(&pool, &schema, RETENTION).await);
        let vault = PostgresVault::<String>::new(pool, &schema).map_err(|e| e.to_string())?;
        vault.migrate().await.map_err(|e| e.to_string())?;
        vaults.push(vault);
    }
    let server = Arc::new(Mutex::new(server));
    let fault = cfg
        .faults
        .then(|| faults::postgres_stop(server.clone(), cfg));
    let load = Load::new(&stores, vaults, None);
    let r = report(
        Backend::Postgres,
        cfg,
        "PostgresVault (same schema), a pool per replica",
        "acknowledged after COMMIT; the test server runs with fsync=off, so a process crash \
         (the fault here) loses nothing, a machine crash could",
    );
    soak(r, load, cfg, fault).await
}

pub(super) async fn redis(cfg: &Config) -> Result<StoreReport, String> {
    let Some(server) = RedisServer::start_durable() else {
        return Ok(StoreReport::skipped(
            Backend::Redis.name(),
            "redis-server is not installed",
        ));
    };
    let prefix = format!("soak-{}:", PendingId::random());
    let (mut stores, mut vaults) = (Vec::new(), Vec::new());
    for _ in 0..cfg.replicas {
        let client = redis::Client::open(server.url()).map_err(|e| e.to_string())?;
        stores.push(
            RedisStore::<DeviceCode>::builder(client.clone())
                .prefix(prefix.clone())
                .retention(RETENTION)
                .connect()
                .await
                .map_err(|e| format!("redis: {e}"))?,
        );
        let vault = RedisVault::<String>::connect(client)
            .await
            .map_err(|e| format!("redis vault: {e}"))?
            .with_prefix(&format!("{prefix}vault:"));
        vaults.push(vault);
    }
    let server = Arc::new(Mutex::new(server));
    let fault = cfg.faults.then(|| faults::redis_kill(server.clone(), cfg));
    let load = Load::new(&stores, vaults, None);
    let r = report(
        Backend::Redis,
        cfg,
        "RedisVault (same server), a client per replica",
        "appendonly yes, appendfsync always: every acknowledged write survives a SIGKILL",
    );
    soak(r, load, cfg, fault).await
}

pub(super) async fn redis_cluster(cfg: &Config) -> Result<StoreReport, String> {
    let Some(cluster) = RedisCluster::start(3, 2) else {
        return Ok(StoreReport::skipped(
            Backend::RedisCluster.name(),
            "redis-server or redis-cli is not installed",
        ));
    };
    let prefix = "{soak}:";
    let mut stores = Vec::new();
    for _ in 0..cfg.replicas {
        stores.push(
            cluster
                .store_builder()
                .prefix(prefix)
                .retention(RETENTION)
                .wait_for_replicas(1, Duration::from_secs(1))
                .connect()
                .await
                .map_err(|e| format!("redis cluster: {e}"))?,
        );
    }
    synced(&stores[0]).await?;
    // The vault's keys share the store's hash tag, so its slot's primary is the one killed.
    let mut vaults = Vec::new();
    for _ in 0..cfg.replicas {
        let target = RedisTarget::cluster(cluster.urls()).map_err(|e| e.to_string())?;
        let vault = RedisVault::<String>::connect_with_prefix(target, &format!("{prefix}vault:"))
            .await
            .map_err(|e| format!("redis cluster vault: {e}"))?
            .with_wait_for_replicas(1, Duration::from_secs(1));
        vaults.push(vault);
    }
    let cluster = Arc::new(Mutex::new(cluster));
    let fault = cfg
        .faults
        .then(|| faults::cluster_failover(cluster.clone(), key_slot(prefix), cfg));
    let load = Load::new(&stores, vaults, None);
    let mut r = report(
        Backend::RedisCluster,
        cfg,
        "RedisVault (same cluster and hash tag as the store), a connection per replica",
        "3 primaries with 2 replicas each; the store waits for one replica (WAIT 1) before it \
         acknowledges a write, and so does the vault. Redis does not promise that the \
         replica promoted at a failover is the one that acknowledged (WAIT is not strong \
         consistency), so losses at the failover (store and vault) are measured here, not \
         enforced",
    );
    if cfg.faults {
        r.measured_only = vec![
            Invariant::AckedLost,
            Invariant::WaiterHung,
            Invariant::OutcomeMismatch,
            Invariant::VaultCasLost,
        ];
    }
    soak(r, load, cfg, fault).await
}

/// Waits until a create is acknowledged (the replicas of a new cluster sync first, and until
/// they do, `WAIT` times out).
async fn synced(store: &RedisStore<DeviceCode>) -> Result<(), String> {
    let load = Load::<_, MemoryVault<String>>::new(std::slice::from_ref(store), Vec::new(), None);
    let caller = VerifiedSubject::new(Namespace::new("warm-up").map_err(|e| e.to_string())?);
    let start = Instant::now();
    loop {
        match load.ms[0].create(&caller, spec()).await {
            Ok(p) => {
                let _ = load.ms[0].cancel(p).await;
                return Ok(());
            }
            Err(e) if start.elapsed() > Duration::from_secs(60) => {
                return Err(format!(
                    "redis cluster: no create acknowledged in 60 s: {e}"
                ));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}
