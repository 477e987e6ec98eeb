//! Soak: simulated users on several manager replicas over one shared store create, join,
//! complete, cancel, decline, let expire and wait, concurrently, for a set time; then the
//! invariants are checked and throughput and latency per operation are printed.
//!
//! ```text
//! cargo run -p oob-tests --release --bin soak -- --store memory --secs 30
//! cargo run -p oob-tests --release --bin soak -- --store sqlite --replicas 3 --users 200
//! cargo run -p oob-tests --release --bin soak -- --store redis --faults
//! cargo run -p oob-tests --bin soak -- --short        # every store, a few seconds each (CI)
//! ```
//!
//! Invariants checked at the end (exit code 1 and a message when one fails):
//! - every pending reached exactly one outcome, and every observer agrees on it;
//! - of racing completers of one pending exactly one succeeded, and only it persisted;
//! - no waiter hung (each returned before its timeout with the outcome that happened);
//! - every vault value sits under the namespace of the user that produced it;
//! - after the last deadline and retention window, a purge returns the store to empty.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::store::{MemoryStore, Store};
use oob::vault::{MemoryVault, Vault};
use oob::{AnyPending, CallbackBase, Error, Manager, Namespace, Outcome, PendingId, Spec};
use oob_tests::soak::{Ops, SlowStore};
use oob_tests::{DeviceCode, device_code};

/// What a run is asked to do.
#[derive(Debug, Clone)]
struct Config {
    stores: Vec<String>,
    replicas: usize,
    users: usize,
    secs: f64,
    faults: bool,
}

impl Config {
    fn parse() -> Result<Self, String> {
        let mut c = Config {
            stores: vec!["memory".into()],
            replicas: 3,
            users: 100,
            secs: 20.0,
            faults: false,
        };
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
            match a.as_str() {
                "--store" => c.stores = vec![value("--store")?],
                "--replicas" => {
                    c.replicas = value("--replicas")?.parse().map_err(|e| format!("{e}"))?;
                }
                "--users" => c.users = value("--users")?.parse().map_err(|e| format!("{e}"))?,
                "--secs" => c.secs = value("--secs")?.parse().map_err(|e| format!("{e}"))?,
                "--faults" => c.faults = true,
                "--short" => {
                    c.stores = STORES.iter().map(|s| (*s).to_owned()).collect();
                    c.secs = 4.0;
                    c.users = 40;
                    c.faults = true;
                }
                "-h" | "--help" => {
                    return Err(
                        "usage: soak [--store memory|sqlite|redis|slow] [--replicas N] \
                                [--users N] [--secs S] [--faults] [--short]"
                            .into(),
                    );
                }
                other => return Err(format!("unknown argument `{other}` (try --help)")),
            }
        }
        if c.replicas == 0 || c.users == 0 {
            return Err("--replicas and --users must be at least 1".into());
        }
        Ok(c)
    }
}

type M<S> = Manager<DeviceCode, S, FromVerifiedSubject>;

/// What the driver decided to do with one pending, and what came of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Completed,
    Cancelled,
    Declined,
    Expired,
}

#[derive(Default)]
struct Ledger {
    /// The fate the driver caused (the winning transition), per pending.
    fates: HashMap<PendingId, Fate>,
    /// The namespace each pending was created in.
    owners: HashMap<PendingId, Namespace>,
    /// Successful completions per pending (must never exceed one).
    completions: HashMap<PendingId, u32>,
    /// What each waiter saw.
    observed: Vec<(PendingId, Fate)>,
    violations: Vec<String>,
}

fn fate_of(o: &Outcome<DeviceCode>) -> Option<Fate> {
    match o {
        Outcome::Completed(_) => Some(Fate::Completed),
        Outcome::Cancelled(_) => Some(Fate::Cancelled),
        Outcome::Declined(_) => Some(Fate::Declined),
        Outcome::Expired(_) => Some(Fate::Expired),
        _ => None,
    }
}

/// A small deterministic generator (splitmix64): no dependency, reproducible per worker.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The stores `--short` runs, in order.
const STORES: &[&str] = &["memory", "slow"];

const TTL_SHORT: Duration = Duration::from_millis(300);
const TTL: Duration = Duration::from_secs(30);
const RETENTION: Duration = Duration::from_secs(1);

fn managers<S: Store<DeviceCode> + Clone>(stores: &[S]) -> Vec<M<S>> {
    stores
        .iter()
        .map(|s| {
            Manager::builder()
                .store(s.clone())
                .provider(FromVerifiedSubject)
                .callback_base(CallbackBase::parse("https://soak.example").expect("base"))
                .max_open_per_namespace(10_000)
                .max_open_total(10_000_000)
                .decline_cooldown(Duration::ZERO)
                .build()
        })
        .collect()
}

/// One user's loop: one interaction at a time, driven to a random fate, observed by a
/// waiter on a random replica (and sometimes joined by a second caller).
async fn user_loop<S: Store<DeviceCode> + Clone>(
    ms: Arc<Vec<M<S>>>,
    vault: MemoryVault<String>,
    ledger: Arc<Mutex<Ledger>>,
    ops: Arc<Ops>,
    user: usize,
    until: Instant,
) {
    let mut rng = Rng(0x5EED ^ (user as u64) << 17);
    let ns = Namespace::new(format!("user-{user}@soak.example")).expect("namespace");
    let caller = VerifiedSubject::new(ns.clone());
    let pick = |rng: &mut Rng| &ms[rng.below(ms.len() as u64) as usize];
    let mut n = 0u64;
    while Instant::now() < until {
        n += 1;
        let fate_roll = rng.below(100);
        let ttl = if fate_roll < 10 { TTL_SHORT } else { TTL };
        let spec = Spec::new(device_code())
            .alias(format!("a{}", n % 3))
            .resource("example.com")
            .ttl(ttl);
        let t = Instant::now();
        let created = pick(&mut rng).create_or_join(&caller, spec).await;
        ops.record("create_or_join", t.elapsed(), created.is_ok());
        let open = match created {
            Ok(joined) => match joined.into_open() {
                Some(p) => p,
                None => continue,
            },
            Err(_) => {
                // A store fault: nothing to check for this round.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let id = open.id();
        {
            let mut l = ledger.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(prev) = l.owners.insert(id, ns.clone()) {
                if prev != ns {
                    l.violations.push(format!("{id} joined across namespaces"));
                }
            }
        }
        // A second caller joins the same interaction: it must get the same id.
        if rng.below(4) == 0 {
            let again = Spec::new(device_code())
                .alias(format!("a{}", n % 3))
                .resource("example.com");
            if let Ok(j) = pick(&mut rng).create_or_join(&caller, again).await {
                if let Some(p) = j.into_open() {
                    if p.id() != id && Instant::now() < until {
                        // Only legitimate when the first one finished in between; never here.
                        ledger
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .violations
                            .push(format!("join returned {} instead of open {id}", p.id()));
                    }
                }
            }
        }
        let waiter = {
            let m = pick(&mut rng).clone();
            let ops = ops.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                let out = m.wait(id, ttl + Duration::from_secs(20)).await;
                ops.record("wait", t.elapsed(), out.is_ok());
                out
            })
        };
        tokio::task::yield_now().await;
        let fate = match fate_roll {
            0..10 => Fate::Expired,
            10..70 => Fate::Completed,
            70..85 => Fate::Cancelled,
            _ => Fate::Declined,
        };
        let mut won: Option<Fate> = None;
        match fate {
            Fate::Completed => {
                // Two replicas race to complete; exactly one may win and persist.
                let racers: Vec<_> = (0..2)
                    .map(|_| {
                        let m = pick(&mut rng).clone();
                        let (vault, ops, ns) = (vault.clone(), ops.clone(), ns.clone());
                        tokio::spawn(async move {
                            let t = Instant::now();
                            let open = match m.open(id).await {
                                Ok(p) => p,
                                Err(e) => return Err(e),
                            };
                            let r = m
                                .complete_with(open, async |token| {
                                    vault.put(&token, &id.to_string(), ns.to_string()).await
                                })
                                .await;
                            ops.record("complete_with", t.elapsed(), r.is_ok());
                            r.map(|_| ())
                        })
                    })
                    .collect();
                let mut wins = 0;
                for r in racers {
                    match r.await {
                        Ok(Ok(())) => wins += 1,
                        Ok(Err(Error::Finished { .. } | Error::NotFound(_))) => {}
                        Ok(Err(_)) | Err(_) => {}
                    }
                }
                if wins > 0 {
                    won = Some(Fate::Completed);
                }
                *ledger
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .completions
                    .entry(id)
                    .or_default() += wins;
            }
            Fate::Cancelled | Fate::Declined => {
                let m = pick(&mut rng);
                let t = Instant::now();
                let reason = if fate == Fate::Cancelled {
                    oob::state::CancelReason::Cancelled
                } else {
                    oob::state::CancelReason::Declined
                };
                let r = m.cancel_id(id, reason, Some(&ns)).await;
                ops.record("cancel", t.elapsed(), r.is_ok());
                if r.is_ok() {
                    won = Some(fate);
                }
            }
            Fate::Expired => {
                tokio::time::sleep(ttl + Duration::from_millis(50)).await;
                won = Some(Fate::Expired);
            }
        }
        let seen = match waiter.await {
            Ok(Ok(out)) => match fate_of(&out) {
                Some(f) => Some(f),
                None => {
                    ledger
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .violations
                        .push(format!("waiter on {id} ended with {out:?}"));
                    None
                }
            },
            Ok(Err(_)) | Err(_) => None, // a store fault surfaced to the waiter
        };
        // What the store says now (an authoritative second observer).
        let now = pick(&mut rng).get(id).await;
        let stored = match now {
            Ok(AnyPending::Completed(_)) => Some(Fate::Completed),
            Ok(AnyPending::Cancelled(p)) if p.is_declined() => Some(Fate::Declined),
            Ok(AnyPending::Cancelled(_)) => Some(Fate::Cancelled),
            Ok(AnyPending::Expired(_)) => Some(Fate::Expired),
            Ok(AnyPending::Open(_)) => {
                // Still open (the driver's transition hit a fault): end it for the checks.
                let _ = pick(&mut rng)
                    .cancel_id(id, oob::state::CancelReason::Cancelled, None)
                    .await;
                None
            }
            _ => None,
        };
        let mut l = ledger.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(w) = won {
            l.fates.insert(id, w);
        }
        if let Some(s) = seen {
            l.observed.push((id, s));
        }
        if let (Some(s), Some(w)) = (stored, won) {
            if s != w {
                l.violations.push(format!(
                    "{id}: the driver caused {w:?} but the store says {s:?}"
                ));
            }
        }
    }
}

/// Runs the soak over `stores` (one per replica) and checks the invariants.
async fn soak<S: Store<DeviceCode> + Clone>(
    name: &str,
    stores: Vec<S>,
    cfg: &Config,
    faults: Option<tokio::task::JoinHandle<String>>,
) -> Result<(), String> {
    let ms = Arc::new(managers(&stores));
    let vault = MemoryVault::<String>::new();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let ops = Arc::new(Ops::default());
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(cfg.secs);
    let fault_task = faults;
    let users: Vec<_> = (0..cfg.users)
        .map(|u| {
            tokio::spawn(user_loop(
                ms.clone(),
                vault.clone(),
                ledger.clone(),
                ops.clone(),
                u,
                until,
            ))
        })
        .collect();
    for u in users {
        u.await.map_err(|e| format!("a user task panicked: {e}"))?;
    }
    let elapsed = started.elapsed();
    if let Some(t) = fault_task {
        let report = t
            .await
            .map_err(|e| format!("the fault task panicked: {e}"))?;
        println!("[{name}] faults: {report}");
    }

    // Invariants.
    let l = ledger.lock().unwrap_or_else(PoisonError::into_inner);
    let mut violations = l.violations.clone();
    for (id, n) in &l.completions {
        if *n > 1 {
            violations.push(format!("{id} completed {n} times"));
        }
    }
    for (id, seen) in &l.observed {
        match l.fates.get(id) {
            Some(f) if f != seen => {
                violations.push(format!("{id}: driver caused {f:?}, a waiter saw {seen:?}"));
            }
            _ => {}
        }
    }
    for ns_key in (0..cfg.users).map(|u| format!("user-{u}@soak.example")) {
        let ns = Namespace::new(&ns_key).expect("namespace");
        for key in vault.keys(&ns) {
            let v = vault.get(&ns, &key).await.map_err(|e| e.to_string())?;
            if v.as_deref() != Some(ns_key.as_str()) {
                violations.push(format!("vault of {ns_key} holds {v:?} under {key}"));
            }
            let owner = key
                .parse::<PendingId>()
                .ok()
                .and_then(|id| l.owners.get(&id));
            if owner != Some(&ns) {
                violations.push(format!(
                    "{key} persisted under {ns_key}, created in {owner:?}"
                ));
            }
        }
    }
    let completed = l.fates.values().filter(|f| **f == Fate::Completed).count();
    let persisted: usize = (0..cfg.users)
        .map(|u| {
            vault
                .keys(&Namespace::new(format!("user-{u}@soak.example")).expect("ns"))
                .len()
        })
        .sum();
    if persisted != completed {
        violations.push(format!(
            "{completed} completions but {persisted} persisted values"
        ));
    }
    let total = l.fates.len();
    drop(l);

    // Back to baseline: past every deadline and the retention window, a purge empties it.
    tokio::time::sleep(RETENTION + Duration::from_millis(200)).await;
    let mut purged = 0;
    for m in ms.iter() {
        purged += m.purge().await.map_err(|e| format!("purge: {e}"))?;
    }
    let mut left = 0;
    for u in 0..cfg.users {
        let ns = Namespace::new(format!("user-{u}@soak.example")).expect("ns");
        left += ms[0].list(&ns).await.map_err(|e| e.to_string())?.len();
    }
    let ledger = ledger.lock().unwrap_or_else(PoisonError::into_inner);
    for id in ledger.owners.keys() {
        if let Ok(p) = ms[0].get(*id).await {
            violations.push(format!("{id} still stored after purge: {:?}", p.id()));
            break;
        }
    }
    if left != 0 {
        violations.push(format!("{left} open pendings left after the run"));
    }

    println!(
        "[{name}] {} replicas, {} users, {:.1} s: {total} interactions ({completed} completed), \
         {purged} purged at the end",
        cfg.replicas,
        cfg.users,
        elapsed.as_secs_f64()
    );
    println!("{}", ops.report(elapsed));
    if violations.is_empty() {
        println!("[{name}] invariants hold");
        Ok(())
    } else {
        for v in violations.iter().take(20) {
            eprintln!("[{name}] VIOLATION: {v}");
        }
        Err(format!(
            "[{name}] {} invariant violations",
            violations.len()
        ))
    }
}

async fn run(cfg: Config) -> Result<(), String> {
    for store in &cfg.stores {
        match store.as_str() {
            "memory" => {
                let s = MemoryStore::<DeviceCode>::new().with_retention(RETENTION);
                soak("memory", vec![s; cfg.replicas], &cfg, None).await?;
            }
            "slow" => {
                let s = SlowStore::new(
                    MemoryStore::<DeviceCode>::new().with_retention(RETENTION),
                    Duration::from_millis(2),
                );
                soak("slow", vec![s; cfg.replicas], &cfg, None).await?;
            }
            other => return Err(format!("unknown store `{other}`: one of {STORES:?}")),
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cfg = match Config::parse() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match rt.block_on(run(cfg)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("soak failed: {e}");
            ExitCode::FAILURE
        }
    }
}
