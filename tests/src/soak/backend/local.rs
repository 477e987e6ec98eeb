//! The in-process backends: memory, memory behind injected latency, SQLite.

use std::time::Duration;

use oob::store::{MemoryStore, SqliteStore};
use oob::vault::{MemoryVault, SqliteVault};

use super::report;
use crate::DeviceCode;
use crate::soak::config::{Backend, Config};
use crate::soak::report::StoreReport;
use crate::soak::run::soak;
use crate::soak::slow::Slow;
use crate::soak::workload::{Load, RETENTION};
use crate::sqlite_file::TempDb;

/// The slow store's base delay (each call sleeps ½ to 2 times it).
const SLOW_DELAY: Duration = Duration::from_millis(2);
/// What the slow store's callers wait for before giving up.
const SLOW_TIMEOUT: Duration = Duration::from_millis(5);

pub(super) async fn memory(cfg: &Config) -> Result<StoreReport, String> {
    let s = MemoryStore::<DeviceCode>::new().with_retention(RETENTION);
    let vault = MemoryVault::<String>::new();
    let load = Load::new(&vec![s; cfg.replicas], vec![vault; cfg.replicas], None);
    let r = report(
        Backend::Memory,
        cfg,
        "MemoryVault",
        "in-process, no crash fault applies",
    );
    soak(r, load, cfg, None).await
}

pub(super) async fn slow(cfg: &Config) -> Result<StoreReport, String> {
    let s = Slow::store(
        MemoryStore::<DeviceCode>::new().with_retention(RETENTION),
        SLOW_DELAY,
    );
    let vault = MemoryVault::<String>::new();
    let timeout = cfg.faults.then_some(SLOW_TIMEOUT);
    let load = Load::new(&vec![s; cfg.replicas], vec![vault; cfg.replicas], timeout);
    let mut r = report(
        Backend::Slow,
        cfg,
        "MemoryVault",
        "in-process; a timed-out call may or may not have been applied, so only answered \
         calls count as acknowledged",
    );
    if let Some(t) = timeout {
        r.faults = format!(
            "every store call delayed {:?}–{:?}; callers give up after {t:?}",
            SLOW_DELAY / 2,
            SLOW_DELAY * 2
        );
    }
    soak(r, load, cfg, None).await
}

pub(super) async fn sqlite(cfg: &Config) -> Result<StoreReport, String> {
    let db = TempDb::new("soak");
    let s = SqliteStore::<DeviceCode>::open(db.path())
        .map_err(|e| format!("sqlite: {e}"))?
        .with_retention(RETENTION);
    let vault = SqliteVault::<String>::from_store(&s);
    // One process, one store: replicas of a SQLite service share it.
    let load = Load::new(&vec![s; cfg.replicas], vec![vault; cfg.replicas], None);
    let r = report(
        Backend::Sqlite,
        cfg,
        "SqliteVault (same file)",
        "one file in WAL mode; an acknowledged write is committed (the sqlite-kill run checks \
         it survives a SIGKILL)",
    );
    soak(r, load, cfg, None).await
}
