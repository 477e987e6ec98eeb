//! Soak: simulated users on several manager replicas over one shared store create, join,
//! complete, cancel, decline, let expire and wait, concurrently, for a set time; then the
//! invariants are checked and throughput and latency per operation are printed.
//!
//! ```text
//! cargo run -p oob-tests --release --bin soak -- --store memory --secs 30
//! cargo run -p oob-tests --release --bin soak -- --store sqlite --replicas 3 --users 200
//! cargo run -p oob-tests --release --bin soak -- --store redis --faults   # kill/restart
//! cargo run -p oob-tests --release --bin soak -- --store sqlite-kill      # SIGKILL a writer
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
use oob::store::{MemoryStore, RedisStore, SqliteStore, Store};
use oob::vault::{MemoryVault, Vault};
use oob::{AnyPending, CallbackBase, Error, Manager, Namespace, Outcome, PendingId, Spec};
use oob_tests::redis_server::RedisServer;
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
const STORES: &[&str] = &["memory", "slow", "sqlite", "sqlite-kill", "redis"];

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
        // A join may hand back an older open pending (e.g. one a fault left open) whose
        // deadline is not this round's TTL: time everything from the pending itself.
        let left = open
            .expires_at()
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        {
            let mut l = ledger.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(prev) = l.owners.insert(id, ns.clone())
                && prev != ns
            {
                l.violations.push(format!("{id} joined across namespaces"));
            }
        }
        // A second caller joins the same interaction: it must get the same id (while the
        // first is open; a short-lived one may have expired in between, then it is new).
        if rng.below(4) == 0 {
            let again = Spec::new(device_code())
                .alias(format!("a{}", n % 3))
                .resource("example.com");
            if let Ok(j) = pick(&mut rng).create_or_join(&caller, again).await
                && let Some(p) = j.into_open()
                && p.id() != id
            {
                let other = p.id();
                {
                    let mut l = ledger.lock().unwrap_or_else(PoisonError::into_inner);
                    if ttl == TTL {
                        l.violations
                            .push(format!("join returned {other} instead of open {id}"));
                    }
                    l.owners.insert(other, ns.clone());
                }
                if pick(&mut rng).cancel(p).await.is_ok() {
                    ledger
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .fates
                        .insert(other, Fate::Cancelled);
                }
            }
        }
        let waiter = {
            let m = pick(&mut rng).clone();
            let ops = ops.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                let out = m.wait(id, left + Duration::from_secs(20)).await;
                ops.record("wait", t.elapsed(), out.is_ok());
                out
            })
        };
        tokio::task::yield_now().await;
        let fate = match fate_roll {
            // Only this round's short-lived pendings are left to expire (not a joined one).
            0..10 if left <= TTL_SHORT => Fate::Expired,
            0..10 => Fate::Cancelled,
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
                                .complete_with(open, async move |token| {
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
                tokio::time::sleep(left + Duration::from_millis(50)).await;
                won = Some(Fate::Expired);
            }
        }
        if won.is_none() && fate != Fate::Expired {
            // The driver's transition hit a store fault: end the pending now, so its waiter
            // is not left to the deadline. What the store already holds wins.
            for _ in 0..100 {
                match pick(&mut rng)
                    .cancel_id(id, oob::state::CancelReason::Cancelled, None)
                    .await
                {
                    Ok(_) => won = Some(Fate::Cancelled),
                    Err(Error::Finished { how, .. }) => {
                        won = Some(match how {
                            oob::store::Finished::Completed => Fate::Completed,
                            oob::store::Finished::Declined => Fate::Declined,
                            oob::store::Finished::Cancelled => Fate::Cancelled,
                            _ => Fate::Expired,
                        });
                    }
                    Err(Error::Expired(_)) => won = Some(Fate::Expired),
                    Err(_) => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                }
                break;
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
        if let (Some(s), Some(w)) = (stored, won)
            && s != w
        {
            l.violations.push(format!(
                "{id}: the driver caused {w:?} but the store says {s:?}"
            ));
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
    let l = std::mem::take(&mut *ledger.lock().unwrap_or_else(PoisonError::into_inner));
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
        // Read as that user's own tool call would: with their verified caller's capability.
        let caller = VerifiedSubject::new(ns.clone());
        let token = ms[0].caller(&caller).map_err(|e| chain(&e))?;
        for key in vault.keys(&token).await.map_err(|e| e.to_string())? {
            let v = vault.get(&token, &key).await.map_err(|e| e.to_string())?;
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
    // Completions acknowledged to their completer (a completion whose reply a fault lost is
    // in the store but was never persisted by anyone, correctly).
    let completed: usize = l.completions.values().map(|n| *n as usize).sum();
    let mut persisted = 0;
    for u in 0..cfg.users {
        let ns = Namespace::new(format!("user-{u}@soak.example")).expect("ns");
        let caller = VerifiedSubject::new(ns);
        let token = ms[0].caller(&caller).map_err(|e| chain(&e))?;
        persisted += vault.keys(&token).await.map_err(|e| e.to_string())?.len();
    }
    if persisted != completed {
        violations.push(format!(
            "{completed} completions but {persisted} persisted values"
        ));
    }
    let total = l.fates.len();

    // Back to baseline: past every deadline and the retention window, a purge empties it.
    tokio::time::sleep(RETENTION + Duration::from_millis(200)).await;
    let mut purged = 0;
    for m in ms.iter() {
        purged += m
            .purge()
            .await
            .map_err(|e| format!("purge: {}", chain(&e)))?;
    }
    let mut left = 0;
    for u in 0..cfg.users {
        let ns = Namespace::new(format!("user-{u}@soak.example")).expect("ns");
        let caller = VerifiedSubject::new(ns);
        left += ms[0].list(&caller).await.map_err(|e| e.to_string())?.len();
    }
    for id in l.owners.keys() {
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
            "sqlite" => {
                let db = Scratch::new("soak");
                let s = SqliteStore::<DeviceCode>::open(&db.0)
                    .map_err(|e| format!("sqlite: {e}"))?
                    .with_retention(RETENTION);
                // One process, one store: replicas of a SQLite service share it (several
                // processes on one file work, but only Redis wakes waiters across processes).
                soak("sqlite", vec![s; cfg.replicas], &cfg, None).await?;
            }
            "sqlite-kill" => sqlite_kill(&cfg).await?,
            "redis" => {
                let Some(server) = RedisServer::start_durable() else {
                    println!("[redis] skipped: redis-server is not installed");
                    continue;
                };
                let prefix = format!("soak-{}:", PendingId::random());
                let mut stores = Vec::new();
                for _ in 0..cfg.replicas {
                    let client = redis::Client::open(server.url()).map_err(|e| e.to_string())?;
                    stores.push(
                        RedisStore::<DeviceCode>::builder(client)
                            .prefix(prefix.clone())
                            .retention(RETENTION)
                            .connect()
                            .await
                            .map_err(|e| format!("redis: {e}"))?,
                    );
                }
                let server = Arc::new(Mutex::new(server));
                let faults = cfg.faults.then(|| {
                    let server = server.clone();
                    let until = Instant::now() + Duration::from_secs_f64(cfg.secs * 0.7);
                    tokio::spawn(async move {
                        let mut restarts = 0;
                        tokio::time::sleep(Duration::from_secs_f64(cfg.secs * 0.3)).await;
                        while Instant::now() < until {
                            lock(&server).kill();
                            tokio::time::sleep(Duration::from_millis(300)).await;
                            lock(&server).restart();
                            restarts += 1;
                            tokio::time::sleep(Duration::from_millis(900)).await;
                        }
                        format!("redis-server SIGKILLed and restarted {restarts} times")
                    })
                });
                soak("redis", stores, &cfg, faults).await?;
            }
            other => return Err(format!("unknown store `{other}`: one of {STORES:?}")),
        }
    }
    Ok(())
}

/// An error with its sources, `a: b: c`.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A database file removed (with its WAL files) when dropped.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        Self(std::env::temp_dir().join(format!("oob-{name}-{}.db", PendingId::random())))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

fn sqlite_manager(path: &std::path::Path) -> Result<M<SqliteStore<DeviceCode>>, String> {
    let store = SqliteStore::<DeviceCode>::open(path).map_err(|e| format!("sqlite: {e}"))?;
    Ok(managers(&[store]).remove(0))
}

/// The child of `sqlite-kill`: creates and completes pendings in `path` as fast as it can,
/// printing `C <id>` once a create is acknowledged and `D <id>` once a completion is, until
/// it is killed.
async fn sqlite_child(path: &str) -> Result<(), String> {
    use std::io::Write as _;
    let m = sqlite_manager(std::path::Path::new(path))?;
    let mut out = std::io::stdout().lock();
    let mut n = 0u64;
    loop {
        n += 1;
        let user = VerifiedSubject::new(
            Namespace::new(format!("user-{}@soak.example", n % 17)).map_err(|e| e.to_string())?,
        );
        let p = m
            .create(&user, Spec::new(device_code()).ttl(TTL))
            .await
            .map_err(|e| e.to_string())?;
        let id = p.id();
        writeln!(out, "C {id}").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
        if n.is_multiple_of(2) {
            m.complete(p).await.map_err(|e| e.to_string())?;
            writeln!(out, "D {id}").map_err(|e| e.to_string())?;
            out.flush().map_err(|e| e.to_string())?;
        }
    }
}

/// Fault run: a child process works on a SQLite file and is SIGKILLed mid-stream, twice;
/// after each kill a new store on the file must find every acknowledged create, every
/// acknowledged completion completed, and complete the rest exactly once.
async fn sqlite_kill(cfg: &Config) -> Result<(), String> {
    use std::io::{BufRead, BufReader};
    let db = Scratch::new("soak-kill");
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let (mut created, mut done) = (Vec::new(), std::collections::HashSet::new());
    let rounds = 2;
    for round in 0..rounds {
        let mut child = std::process::Command::new(&exe)
            .arg("--sqlite-child")
            .arg(&db.0)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn child: {e}"))?;
        let stdout = child.stdout.take().ok_or("no child stdout")?;
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        tokio::time::sleep(Duration::from_secs_f64((cfg.secs / 4.0).clamp(0.5, 5.0))).await;
        child.kill().map_err(|e| format!("kill: {e}"))?; // SIGKILL
        let _ = child.wait();
        let lines = reader.join().map_err(|_| "reader thread panicked")?;
        for line in lines {
            match line.split_once(' ') {
                Some(("C", id)) => {
                    created.push(id.parse::<PendingId>().map_err(|e| e.to_string())?)
                }
                Some(("D", id)) => {
                    done.insert(id.parse::<PendingId>().map_err(|e| e.to_string())?);
                }
                _ => {}
            }
        }
        println!(
            "[sqlite-kill] round {}: child SIGKILLed after {} acknowledged creates, {} completions",
            round + 1,
            created.len(),
            done.len()
        );
    }
    let m = sqlite_manager(&db.0)?;
    let mut violations = Vec::new();
    let mut finished_now = 0;
    for id in &created {
        match m.get(*id).await {
            Ok(AnyPending::Completed(_)) if done.contains(id) => {}
            Ok(AnyPending::Completed(_)) => {} // completed, the kill came before its ack line
            Ok(AnyPending::Open(p)) if !done.contains(id) => {
                if m.complete(p).await.is_err() {
                    violations.push(format!("{id}: open but not completable"));
                }
                finished_now += 1;
                if m.complete_id(*id).await.is_ok() {
                    violations.push(format!("{id}: completed twice"));
                }
            }
            Ok(other) => violations.push(format!("{id}: acknowledged, found {other:?}")),
            Err(e) => violations.push(format!("{id}: acknowledged, lost: {e}")),
        }
        if done.contains(id) && m.complete_id(*id).await.is_ok() {
            violations.push(format!(
                "{id}: completed again after its acknowledged completion"
            ));
        }
    }
    println!(
        "[sqlite-kill] {} acknowledged creates all found; {} completed before the kills, {finished_now} completed now, exactly once",
        created.len(),
        done.len()
    );
    if created.is_empty() {
        violations.push("the child acknowledged nothing".into());
    }
    if violations.is_empty() {
        println!("[sqlite-kill] invariants hold");
        Ok(())
    } else {
        for v in violations.iter().take(20) {
            eprintln!("[sqlite-kill] VIOLATION: {v}");
        }
        Err(format!("[sqlite-kill] {} violations", violations.len()))
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--sqlite-child") {
        let Some(path) = args.get(2) else {
            return ExitCode::from(2);
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        return match rt.block_on(sqlite_child(path)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("sqlite child: {e}");
                ExitCode::FAILURE
            }
        };
    }
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
