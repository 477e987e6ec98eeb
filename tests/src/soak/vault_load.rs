//! The vault's share of the load: a canary per user (read back every round, so a read that
//! met another namespace is counted), and a refresh token that two replicas refresh at once
//! by compare-and-swap (each acknowledged write stores the next counter value, so a lost
//! update shows as a value acknowledged twice or a final value below one acknowledged).

use std::sync::Arc;
use std::time::{Duration, Instant};

use oob::Namespace;
use oob::provider::VerifiedSubject;
use oob::store::Store;
use oob::vault::{Vault, VaultError, WriteOptions};

use crate::DeviceCode;

use super::invariants::Invariant;
use super::rng::Rng;
use super::workload::Load;

/// The canary's key: its value is the user's own namespace.
pub const CANARY: &str = "canary";
/// The key refreshed by compare-and-swap: its value is a counter.
pub const TOKEN: &str = "refresh-token";

/// Writes the user's canary (retrying through faults until `until`); whether it was written.
pub async fn seed<S, V>(load: &Load<S, V>, caller: &VerifiedSubject, until: Instant) -> bool
where
    S: Store<DeviceCode> + Clone,
    V: Vault<String> + Clone,
{
    let Ok(token) = load.ms[0].caller(caller) else {
        return false;
    };
    let ns = caller.namespace().to_string();
    while Instant::now() < until {
        let t = Instant::now();
        let r = load.vaults[0].put(&token, CANARY, ns.clone()).await;
        load.ops.record("vault_write", t.elapsed(), r.is_ok());
        if r.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// One round: reads the canary, and refreshes the token from two replicas at once.
pub async fn step<S, V>(
    load: &Arc<Load<S, V>>,
    caller: &VerifiedSubject,
    user: usize,
    rng: &mut Rng,
) where
    S: Store<DeviceCode> + Clone,
    V: Vault<String> + Clone,
{
    let ns = caller.namespace().clone();
    let v = load.vault(rng);
    if let Ok(token) = load.ms[0].caller(caller) {
        let t = Instant::now();
        let r = v.get(&token, CANARY).await;
        load.ops.record("vault_read", t.elapsed(), r.is_ok());
        if let Ok(Some(found)) = r
            && found != ns.as_str()
        {
            load.counts.breach(Invariant::CrossNamespace, || {
                format!("{ns}'s canary read {found}")
            });
        }
    }
    let refreshers: Vec<_> = (0..2)
        .map(|_| {
            let (load, caller, v) = (load.clone(), caller.clone(), load.vault(rng).clone());
            tokio::spawn(async move { refresh(&load, &caller, &v, user).await })
        })
        .collect();
    for r in refreshers {
        let _ = r.await;
    }
}

/// Reads the token and writes the next counter value if nobody wrote in between.
async fn refresh<S, V>(load: &Load<S, V>, caller: &VerifiedSubject, v: &V, user: usize)
where
    S: Store<DeviceCode> + Clone,
    V: Vault<String> + Clone,
{
    let Ok(token) = load.ms[0].caller(caller) else {
        return;
    };
    let t = Instant::now();
    let read = v.read(&token, TOKEN).await;
    load.ops.record("vault_read", t.elapsed(), read.is_ok());
    let Ok(entry) = read else { return };
    let (next, options) = match &entry {
        Some(e) => (
            e.value().parse::<u64>().unwrap_or(0) + 1,
            WriteOptions::new().if_version(e.version()),
        ),
        None => (1, WriteOptions::new().if_absent()),
    };
    let t = Instant::now();
    let w = v.write(&token, TOKEN, next.to_string(), options).await;
    let ok = matches!(w, Ok(_) | Err(VaultError::Conflict { .. }));
    load.ops.record("vault_cas", t.elapsed(), ok);
    if w.is_ok() {
        load.ledger().cas.entry(user).or_default().push(next);
    }
}

/// End of run: the canary and every acknowledged refresh of `user`, checked.
pub async fn check<S, V>(load: &Load<S, V>, ns: &Namespace, user: usize, seeded: bool)
where
    S: Store<DeviceCode> + Clone,
    V: Vault<String> + Clone,
{
    let caller = VerifiedSubject::new(ns.clone());
    let Ok(token) = load.ms[0].caller(&caller) else {
        return;
    };
    match load.vaults[0].get(&token, CANARY).await {
        Ok(Some(v)) if v == ns.as_str() => {}
        Ok(Some(v)) => load.counts.breach(Invariant::CrossNamespace, || {
            format!("{ns}'s canary ends as {v}")
        }),
        Ok(None) if seeded => load
            .counts
            .breach(Invariant::AckedLost, || format!("{ns}'s canary is gone")),
        Ok(None) => {}
        Err(e) => load.counts.breach(Invariant::AckedLost, || {
            format!("{ns}'s canary unreadable: {e}")
        }),
    }
    let mut acked = load.ledger().cas.remove(&user).unwrap_or_default();
    acked.sort_unstable();
    let twice = acked.windows(2).filter(|w| w[0] == w[1]).count() as u64;
    load.counts.add(Invariant::VaultCasLost, twice, || {
        format!("{ns}: {twice} counter values acknowledged to two refreshers")
    });
    let last = match load.vaults[0].get(&token, TOKEN).await {
        Ok(v) => v.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0),
        Err(_) => 0,
    };
    let above = acked.iter().filter(|v| **v > last).count() as u64;
    load.counts.add(Invariant::VaultCasLost, above, || {
        format!("{ns}: token ends at {last}, {above} acknowledged writes above it")
    });
}
