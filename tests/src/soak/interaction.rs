//! One interaction of a user: create (or join), a waiter on a random replica, sometimes a
//! second caller joining, then a fate: completers racing on two replicas (sometimes against
//! a decline), a cancel, a decline, or the deadline; then what every observer saw, checked.

use std::time::{Duration, Instant, SystemTime};

use oob::provider::VerifiedSubject;
use oob::state::CancelReason;
use oob::store::{Finished, Store};
use oob::vault::Vault;
use oob::{AnyPending, Error, Outcome, PendingId, Spec};

use super::invariants::Invariant;
use super::rng::Rng;
use super::workload::{Load, RETENTION};
use crate::{DeviceCode, device_code};

const TTL_SHORT: Duration = Duration::from_millis(300);
const TTL: Duration = Duration::from_secs(30);
/// A waiter returning later than this after its pending finished counts as hung.
const HUNG_AFTER: Duration = Duration::from_secs(5);

/// How a pending ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Completed,
    Cancelled,
    Declined,
    Expired,
}

fn outcome_fate(o: &Outcome<DeviceCode>) -> Option<Fate> {
    match o {
        Outcome::Completed(_) => Some(Fate::Completed),
        Outcome::Cancelled(_) => Some(Fate::Cancelled),
        Outcome::Declined(_) => Some(Fate::Declined),
        Outcome::Expired(_) => Some(Fate::Expired),
        _ => None,
    }
}

/// How a pending ended, and when the store stamped it: exactly (the winning call's answer,
/// or a read of the record), or only bounded below (its creation, when neither is known).
#[derive(Debug, Clone, Copy)]
struct Ended {
    fate: Fate,
    at: SystemTime,
    exact: bool,
}

impl Ended {
    fn exact(fate: Fate, at: SystemTime) -> Self {
        Self {
            fate,
            at,
            exact: true,
        }
    }
}

fn finished_fate(how: Finished) -> Fate {
    match how {
        Finished::Completed => Fate::Completed,
        Finished::Declined => Fate::Declined,
        Finished::Cancelled => Fate::Cancelled,
        _ => Fate::Expired,
    }
}

/// Runs one interaction for `caller`.
pub async fn run<S, V>(
    load: &std::sync::Arc<Load<S, V>>,
    caller: &VerifiedSubject,
    n: u64,
    rng: &mut Rng,
) where
    S: Store<DeviceCode> + Clone,
    V: Vault<String> + Clone,
{
    let ns = caller.namespace().clone();
    let roll = rng.below(100);
    let ttl = if roll < 10 { TTL_SHORT } else { TTL };
    let spec = || {
        Spec::new(device_code())
            .alias(format!("a{}", n % 3))
            .resource("example.com")
    };
    let m = load.pick(rng);
    let Ok(joined) = load
        .timed("create_or_join", m.create_or_join(caller, spec().ttl(ttl)))
        .await
    else {
        tokio::time::sleep(Duration::from_millis(20)).await;
        return;
    };
    let Some(open) = joined.into_open() else {
        return;
    };
    let (id, created) = (open.id(), open.created_at());
    // A join may hand back an older open pending: time everything from the pending itself.
    let left = open
        .expires_at()
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    if let Some(prev) = load.ledger().owners.insert(id, ns.clone())
        && prev != ns
    {
        load.counts.breach(Invariant::CrossNamespace, || {
            format!("{id} joined by {ns}, created by {prev}")
        });
    }
    // A second caller joins the same interaction: while it is open, the same id.
    if rng.below(4) == 0 {
        let m = load.pick(rng);
        if let Ok(j) = load.timed("join", m.create_or_join(caller, spec())).await
            && let Some(p) = j.into_open()
            && p.id() != id
        {
            // Only a short-lived first pending may have expired in between.
            if left > TTL_SHORT {
                load.counts.breach(Invariant::AckedLost, || {
                    format!("join returned {} while {id} was open", p.id())
                });
            }
            load.ledger().owners.insert(p.id(), ns.clone());
            let _ = load.timed("cancel", load.pick(rng).cancel(p)).await;
        }
    }
    let waiter = {
        let m = load.pick(rng).clone();
        tokio::spawn(async move {
            let t = Instant::now();
            let out = m.wait(id, left + Duration::from_secs(20)).await;
            (out, t, Instant::now(), SystemTime::now())
        })
    };
    tokio::task::yield_now().await;
    let fate = match roll {
        0..10 if left <= TTL_SHORT => Fate::Expired,
        0..10 => Fate::Cancelled,
        10..70 => Fate::Completed,
        70..85 => Fate::Cancelled,
        _ => Fate::Declined,
    };
    let mut won = match fate {
        Fate::Completed => race(load, id, rng).await,
        Fate::Cancelled => end(load, id, CancelReason::Cancelled, rng).await,
        Fate::Declined => end(load, id, CancelReason::Declined, rng).await,
        Fate::Expired => {
            tokio::time::sleep(left + Duration::from_millis(50)).await;
            Some(Ended::exact(Fate::Expired, open.expires_at()))
        }
    };
    if won.is_none() {
        won = settle(load, id, created, open.expires_at(), rng).await;
    }
    let finished_at = Instant::now();
    check(load, id, won, finished_at, waiter, rng).await;
}

/// When a record the store stamped at `ended` stops being readable: its retention window
/// counts from that stamp (the transition's `now`, taken before the call is sent), not from
/// when the call returned, which a store that is restarting (a reconnect, then the persist
/// step's vault write to the same server) may delay past the window.
fn readable_until(ended: SystemTime) -> SystemTime {
    ended + RETENTION
}

/// Two completers on random replicas and, one time in four, a decline: at most one may win.
/// The winner's fate, and when the store stamped it.
async fn race<S, V>(
    load: &std::sync::Arc<Load<S, V>>,
    id: PendingId,
    rng: &mut Rng,
) -> Option<Ended>
where
    S: Store<DeviceCode> + Clone,
    V: Vault<String> + Clone,
{
    let decline = rng.below(4) == 0;
    let mut racers = Vec::new();
    for i in 0..(2 + usize::from(decline)) {
        let (load, r) = (load.clone(), rng.below(u64::MAX));
        racers.push(tokio::spawn(async move {
            let m = &load.ms[r as usize % load.ms.len()];
            if i == 2 {
                let r = load
                    .timed("decline", m.cancel_id(id, CancelReason::Declined, None))
                    .await;
                return r
                    .ok()
                    .map(|p| Ended::exact(Fate::Declined, p.cancelled_at()));
            }
            let vault = load.vaults[r as usize % load.vaults.len()].clone();
            let done = load
                .timed("complete", async {
                    let open = m.open(id).await?;
                    let ns = open.namespace().to_string();
                    m.complete_with(open, async move |token| {
                        vault.put(&token, &id.to_string(), ns).await
                    })
                    .await
                })
                .await;
            let (done, ()) = done.ok()?;
            load.ledger().completed.insert(id);
            Some(Ended::exact(Fate::Completed, done.completed_at()))
        }));
    }
    let mut wins = Vec::new();
    for r in racers {
        if let Ok(Some(f)) = r.await {
            wins.push(f);
        }
    }
    if wins.len() > 1 {
        load.counts.breach(Invariant::FinishedTwice, || {
            let wins: Vec<Fate> = wins.iter().map(|w| w.fate).collect();
            format!("{id}: {} transitions won: {wins:?}", wins.len())
        });
    }
    wins.first().copied()
}

async fn end<S, V>(
    load: &Load<S, V>,
    id: PendingId,
    reason: CancelReason,
    rng: &mut Rng,
) -> Option<Ended>
where
    S: Store<DeviceCode> + Clone,
    V: Vault<String> + Clone,
{
    let (op, fate) = match reason {
        CancelReason::Declined => ("decline", Fate::Declined),
        _ => ("cancel", Fate::Cancelled),
    };
    let m = load.pick(rng);
    let ns = load.ledger().owners.get(&id).cloned();
    let r = load.timed(op, m.cancel_id(id, reason, ns.as_ref())).await;
    r.ok().map(|p| Ended::exact(fate, p.cancelled_at()))
}

/// The driver's transition failed (a fault or a timeout): end the pending now, so its waiter
/// is not left to the deadline; what the store already holds wins. A pending created less
/// than the retention window ago cannot have been purged, so not finding it is an
/// acknowledged create lost (it was retried for 30 s, and not counted, before). When an
/// earlier transition won, its stamp is read from the record; when that read fails, the
/// creation time stands in for it, as a lower bound only (see [`check`]).
async fn settle<S, V>(
    load: &Load<S, V>,
    id: PendingId,
    created: SystemTime,
    deadline: SystemTime,
    rng: &mut Rng,
) -> Option<Ended>
where
    S: Store<DeviceCode> + Clone,
    V: Vault<String> + Clone,
{
    let give_up = Instant::now() + Duration::from_secs(30);
    while Instant::now() < give_up {
        let m = load.pick(rng);
        match load
            .timed("cancel", m.cancel_id(id, CancelReason::Cancelled, None))
            .await
        {
            Ok(p) => return Some(Ended::exact(Fate::Cancelled, p.cancelled_at())),
            Err(Some(Error::Finished { how, .. })) => {
                let fate = finished_fate(how);
                let stamp = match load.pick(rng).get(id).await {
                    Ok(AnyPending::Completed(p)) => Some(p.completed_at()),
                    Ok(AnyPending::Cancelled(p)) => Some(p.cancelled_at()),
                    _ => None,
                };
                return Some(stamp.map_or(
                    Ended {
                        fate,
                        at: created,
                        exact: false,
                    },
                    |at| Ended::exact(fate, at),
                ));
            }
            Err(Some(Error::Expired(_))) => return Some(Ended::exact(Fate::Expired, deadline)),
            Err(Some(Error::NotFound(_))) => {
                let age = SystemTime::now()
                    .duration_since(created)
                    .unwrap_or_default();
                if age < RETENTION {
                    load.counts.breach(Invariant::AckedLost, || {
                        format!("{id}: created {age:?} ago, not found before any end")
                    });
                }
                return None;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    None
}

type Waiter = tokio::task::JoinHandle<(
    Result<Outcome<DeviceCode>, Error>,
    Instant,
    Instant,
    SystemTime,
)>;

/// What the waiter saw and what the store holds must be what won.
async fn check<S, V>(
    load: &Load<S, V>,
    id: PendingId,
    won: Option<Ended>,
    finished_at: Instant,
    waiter: Waiter,
    rng: &mut Rng,
) where
    S: Store<DeviceCode> + Clone,
    V: Vault<String> + Clone,
{
    match waiter.await {
        Ok((Ok(out), from, at, returned)) => {
            let late = at.saturating_duration_since(finished_at);
            load.ops.record("wait", at - from, true);
            // Told `Removed` once the record's window had passed, and soon after it: its
            // reads could not reach the record while it was readable (the store down
            // through the window). Only with the exact stamp of a completion or a cancel
            // (an expiry is never `Removed`: past its window `wait` answers `Expired`), and
            // counted on its own line, never as a hang.
            let after_window = won
                .filter(|e| e.exact && e.fate != Fate::Expired)
                .is_some_and(|e| {
                    let until = readable_until(e.at);
                    returned >= until && returned <= until + HUNG_AFTER
                });
            match (outcome_fate(&out), won.map(|e| e.fate)) {
                (None, _) if matches!(out, Outcome::Removed(_)) && after_window => {
                    load.counts.breach(Invariant::RemovedAfterWindow, || {
                        format!("{id}: waiter got {out:?} after the record's window")
                    });
                }
                (None, _) => load.counts.breach(Invariant::WaiterHung, || {
                    format!("{id}: waiter got {out:?}")
                }),
                (Some(s), Some(w)) if s != w => {
                    load.counts.breach(Invariant::OutcomeMismatch, || {
                        format!("{id}: {w:?} won, a waiter was told {s:?}")
                    })
                }
                _ if late > HUNG_AFTER => load.counts.breach(Invariant::WaiterHung, || {
                    format!("{id}: waiter returned {late:?} after the end")
                }),
                _ => {}
            }
        }
        // A store fault surfaced to the waiter: a failed operation, not a hang.
        Ok((Err(_), from, at, _)) => load.ops.record("wait", at - from, false),
        Err(_) => load.ops.record("wait", Duration::ZERO, false),
    }
    let Some(Ended {
        fate: won,
        at: ended,
        ..
    }) = won
    else {
        return;
    };
    let m = load.pick(rng);
    let asked = SystemTime::now();
    let stored = match load.timed("get", m.get(id)).await {
        Ok(AnyPending::Completed(_)) => Fate::Completed,
        Ok(AnyPending::Cancelled(p)) if p.is_declined() => Fate::Declined,
        Ok(AnyPending::Cancelled(_)) => Fate::Cancelled,
        Ok(AnyPending::Expired(_)) => Fate::Expired,
        Ok(other) => {
            load.counts.breach(Invariant::AckedLost, || {
                format!("{id}: {won:?} won, the store holds {other:?}")
            });
            return;
        }
        // Asked within the window that counts from the store's own stamp, a quarter second
        // short of its end (the manager reads its clock for the read right after `asked`).
        Err(Some(Error::NotFound(_))) if asked + RETENTION / 8 < readable_until(ended) => {
            load.counts.breach(Invariant::AckedLost, || {
                let after = asked.duration_since(ended).unwrap_or_default();
                format!(
                    "{id}: {won:?} won, not found {after:?} after it ended (the call returned \
                     {:?} before the read)",
                    finished_at.elapsed()
                )
            });
            return;
        }
        Err(_) => return,
    };
    if stored != won {
        load.counts.breach(Invariant::AckedLost, || {
            format!("{id}: {won:?} won, the store says {stored:?}")
        });
    }
    load.ledger().interactions += 1;
}
