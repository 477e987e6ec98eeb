//! One backend's soak: the users for a set time (with a fault task beside them), then the
//! end-of-run checks: stray pendings cancelled, the vault's canaries, refreshes and persisted
//! completions, and the store back to empty after the retention window and a purge.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oob::provider::VerifiedSubject;
use oob::state::CancelReason;
use oob::store::Store;
use oob::vault::Vault;
use oob::{Error, PendingId};

use super::config::Config;
use super::invariants::Invariant;
use super::report::StoreReport;
use super::vault_load;
use super::workload::{Load, RETENTION, namespace, user_loop};
use crate::DeviceCode;

/// A fault task: runs beside the load and says what it injected.
pub type FaultTask = tokio::task::JoinHandle<String>;

/// Runs the load on `load` and checks the invariants; the report carries the figures.
///
/// # Errors
/// A user or fault task panicked.
pub async fn soak<S, V>(
    mut report: StoreReport,
    load: Load<S, V>,
    cfg: &Config,
    faults: Option<FaultTask>,
) -> Result<StoreReport, String>
where
    S: Store<DeviceCode> + Clone,
    V: Vault<String> + Clone,
{
    let name = report.name;
    let load = Arc::new(load);
    let started = Instant::now();
    let until = started + cfg.duration();
    let users: Vec<_> = (0..cfg.users)
        .map(|u| tokio::spawn(user_loop(load.clone(), u, until)))
        .collect();
    let mut seeded = Vec::with_capacity(users.len());
    for u in users {
        seeded.push(
            u.await
                .map_err(|e| format!("[{name}] a user task panicked: {e}"))?,
        );
    }
    report.elapsed = started.elapsed();
    if let Some(t) = faults {
        report.faults = t
            .await
            .map_err(|e| format!("[{name}] the fault task panicked: {e}"))?;
    }
    eprintln!("[{name}] load done; checking");
    let give_up = Instant::now() + CHECKS_WITHIN;
    let stray = cancel_stray(&load, cfg.users, give_up).await;
    for (u, seeded) in seeded.iter().enumerate() {
        vault_load::check(&load, &namespace(u), u, *seeded).await;
    }
    persisted(&load, cfg.users).await;
    back_to_baseline(&load, cfg.users, give_up).await;
    report.ops = load.ops.figures(report.elapsed);
    report.interactions = load.ledger().interactions;
    report.set_counts(&load.counts);
    if stray > 0 {
        report.faults = format!(
            "{}; {stray} open pendings of unacknowledged creates cancelled at the end",
            if report.faults.is_empty() {
                "none"
            } else {
                &report.faults
            }
        );
    }
    Ok(report)
}

/// How long the end-of-run checks retry through store faults, in all.
const CHECKS_WITHIN: Duration = Duration::from_secs(60);

/// Retries `f` through store faults until `give_up`.
async fn retry<R, F: Future<Output = Result<R, Error>>>(
    give_up: Instant,
    mut f: impl FnMut() -> F,
) -> Result<R, Error> {
    loop {
        match f().await {
            Err(Error::Store(_)) if Instant::now() < give_up => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            r => return r,
        }
    }
}

/// Cancels what creates that timed out or met a fault left open (the service's clean-up);
/// how many.
async fn cancel_stray<S, V>(load: &Load<S, V>, users: usize, give_up: Instant) -> usize
where
    S: Store<DeviceCode> + Clone,
    V: Vault<String> + Clone,
{
    let m = &load.ms[0];
    let mut n = 0;
    for u in 0..users {
        let caller = VerifiedSubject::new(namespace(u));
        let Ok(open) = retry(give_up, || m.list(&caller)).await else {
            continue;
        };
        for p in open {
            let id = p.id();
            if retry(give_up, || m.cancel_id(id, CancelReason::Cancelled, None))
                .await
                .is_ok()
            {
                n += 1;
            }
        }
    }
    n
}

/// Every acknowledged completion's persisted value is in its owner's vault, and every value
/// there belongs to that owner.
async fn persisted<S, V>(load: &Load<S, V>, users: usize)
where
    S: Store<DeviceCode> + Clone,
    V: Vault<String> + Clone,
{
    let mut found = HashSet::new();
    for u in 0..users {
        let ns = namespace(u);
        let caller = VerifiedSubject::new(ns.clone());
        let Ok(token) = load.ms[0].caller(&caller) else {
            continue;
        };
        let keys = match load.vaults[0].keys(&token).await {
            Ok(k) => k,
            Err(e) => {
                load.counts.breach(Invariant::AckedLost, || {
                    format!("{ns}'s vault keys unreadable: {e}")
                });
                continue;
            }
        };
        for key in keys {
            let Ok(id) = key.parse::<PendingId>() else {
                continue;
            };
            found.insert(id);
            let owner = load.ledger().owners.get(&id).cloned();
            let value = load.vaults[0].get(&token, &key).await.ok().flatten();
            if owner.as_ref() != Some(&ns) || value.as_deref() != Some(ns.as_str()) {
                load.counts.breach(Invariant::CrossNamespace, || {
                    format!("{key} persisted under {ns} holding {value:?}, created in {owner:?}")
                });
            }
        }
    }
    let completed = load.ledger().completed.clone();
    let lost = completed.difference(&found).count() as u64;
    load.counts.add(Invariant::AckedLost, lost, || {
        format!("{lost} acknowledged completions without their persisted value")
    });
}

/// Past every deadline and the retention window, a purge empties the store.
async fn back_to_baseline<S, V>(load: &Arc<Load<S, V>>, users: usize, give_up: Instant)
where
    S: Store<DeviceCode> + Clone,
    V: Vault<String> + Clone,
{
    tokio::time::sleep(RETENTION + Duration::from_millis(300)).await;
    for m in &load.ms {
        let _ = retry(give_up, || m.purge()).await;
    }
    let m = &load.ms[0];
    let mut left = 0u64;
    for u in 0..users {
        let caller = VerifiedSubject::new(namespace(u));
        left += retry(give_up, || m.list(&caller))
            .await
            .map_or(0, |l| l.len() as u64);
    }
    load.counts.add(Invariant::LeftAfterPurge, left, || {
        format!("{left} open pendings listed after the purge")
    });
    let ids: Vec<PendingId> = load.ledger().owners.keys().copied().collect();
    let readers: Vec<_> = ids
        .chunks(ids.len().div_ceil(16).max(1))
        .map(|chunk| {
            let (load, chunk) = (load.clone(), chunk.to_vec());
            tokio::spawn(async move {
                let m = &load.ms[0];
                for id in chunk {
                    if let Ok(p) = retry(give_up, || m.get(id)).await {
                        load.counts.breach(Invariant::LeftAfterPurge, || {
                            format!("{id} still stored after the purge: {p:?}")
                        });
                    }
                }
            })
        })
        .collect();
    for r in readers {
        let _ = r.await;
    }
}
