//! The Redis store against its yardsticks, and its cost as data grows.
//!
//! Run with `cargo bench -p oob --features redis --bench redis_store`. Starts its own
//! `redis-server` (loopback, no persistence) and skips with a notice when it is not
//! installed. One process, one server, one client library configuration throughout.
//!
//! **Throughput**, in interleaved rounds (each round runs every variant once, in turn), at
//! 1 and 64 concurrent tasks on one multiplexed connection each: a raw `SET`+`DEL` of a
//! record-sized value; the minimal atomic create+transition pair (the store's record writes
//! and its event, nothing else; as `EVALSHA` scripts and as Redis Functions, `FCALL`); the
//! store's writes (that pair plus every index write the store makes, without its reads and
//! checks: a diagnostic, splitting the store's gap to the minimal pair into what its
//! indexes cost and what its logic costs); and the store (a create and a complete through
//! the manager; and the same with the complete through a second manager and store on the
//! same prefix, as when another replica takes the callback: the store that created a record
//! completes it with a short script, another with one that also returns the record; one
//! round trip each). Prints the median pairs/s of the rounds
//! with their spread, the store's ratio to each yardstick per round, and the CPU time per
//! pair of Redis's main thread (`INFO cpu`) and of this process (the client).
//!
//! **Growth**: the per-operation cost (client latency at 1 task, and Redis's main-thread
//! CPU time) of create+complete (and of the minimal pair right after it, at the same
//! size), `create_or_join` (inserting, joining, and answering a decline in its cooldown),
//! get and list, while one namespace grows from 10 to 10,000 open
//! pendings and the store from 0 to 100,000 retained records.

#[path = "redis_support/growth.rs"]
mod growth;
mod redis_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::store::RedisStore;
use oob::time::SystemClock;
use oob::{CallbackBase, Manager, Namespace};
use redis::aio::ConnectionManager;
use redis_support::pairs::{
    MIN_CREATE, MIN_DONE, MIN_LIBRARY, WRITES_CREATE, WRITES_DONE, minimal_pair, writes_pair,
};
use redis_support::{DeviceCode, Server, client_cpu_ns, commandstats, median, redis_cpu_us, spec};

type M = Manager<DeviceCode, RedisStore<DeviceCode>, FromVerifiedSubject>;

const ROUNDS: usize = 7;

struct Setup {
    manager: M,
    /// The server, for a second replica on the same prefix that completes what `manager`
    /// creates; it exists only while that variant runs (its event subscriber would
    /// otherwise receive every event of the others).
    client: redis::Client,
    conn: ConnectionManager,
    stats: ConnectionManager,
    users: Arc<Vec<VerifiedSubject>>,
    value: Arc<String>,
    seq: Arc<AtomicU64>,
    /// The `EVALSHA` hashes of the minimal pair's scripts and of the store's writes'.
    hashes: Arc<[String; 4]>,
}

async fn manager(client: &redis::Client, prefix: &str, per_ns: usize) -> M {
    let store = RedisStore::builder(client.clone())
        .prefix(prefix)
        .connect()
        .await
        .expect("connect");
    Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .clock(SystemClock)
        .max_open_per_namespace(per_ns)
        .decline_cooldown(Duration::from_secs(600))
        .build()
}

async fn setup(url: &str) -> Setup {
    let client = redis::Client::open(url).expect("client");
    // The baselines use a connection manager configured like the store's.
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(0);
    let mut conn = ConnectionManager::new_with_config(client.clone(), config)
        .await
        .expect("conn");
    let load = |src: &'static str| {
        let mut c = conn.clone();
        async move {
            redis::cmd("SCRIPT")
                .arg("LOAD")
                .arg(src)
                .query_async::<String>(&mut c)
                .await
                .expect("SCRIPT LOAD")
        }
    };
    let hashes = [
        load(MIN_CREATE).await,
        load(MIN_DONE).await,
        load(WRITES_CREATE).await,
        load(WRITES_DONE).await,
    ];
    redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg("REPLACE")
        .arg(MIN_LIBRARY)
        .exec_async(&mut conn)
        .await
        .expect("FUNCTION LOAD");
    // The store's events reach its subscriber: the minimal pair's reach one too.
    let mut events = client.get_async_pubsub().await.expect("pubsub");
    events.subscribe("{min}:events").await.expect("subscribe");
    events
        .subscribe("{writes}:events")
        .await
        .expect("subscribe");
    tokio::spawn(async move {
        let mut stream = events.into_on_message();
        while std::future::poll_fn(|c| {
            futures_core::Stream::poll_next(std::pin::Pin::new(&mut stream), c)
        })
        .await
        .is_some()
        {}
    });
    let users = (0..1_000)
        .map(|i| VerifiedSubject::new(Namespace::new(format!("user-{i}")).expect("namespace")))
        .collect();
    Setup {
        manager: manager(&client, "{bench}:", 1_000).await,
        stats: ConnectionManager::new(client.clone()).await.expect("stats"),
        client,
        conn,
        users: Arc::new(users),
        // About the size of a stored record's fields.
        value: Arc::new("x".repeat(220)),
        seq: Arc::new(AtomicU64::new(0)),
        hashes: Arc::new(hashes),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Variant {
    Raw,
    MinEval,
    MinFcall,
    Writes,
    Store,
    StoreElsewhere,
}

/// One pair of `variant`, by task `t`, its `i`th.
async fn pair(
    s: &Setup,
    c: &mut ConnectionManager,
    variant: Variant,
    (t, i): (usize, u64),
    other: Option<&M>,
) {
    let n = s.seq.fetch_add(1, Ordering::Relaxed);
    match variant {
        Variant::Raw => {
            let key = format!("raw:{n}");
            redis::cmd("SET")
                .arg(&key)
                .arg(s.value.as_str())
                .exec_async(c)
                .await
                .expect("SET");
            redis::cmd("DEL")
                .arg(&key)
                .exec_async(c)
                .await
                .expect("DEL");
        }
        Variant::MinEval => minimal_pair(c, &s.hashes, false, n).await,
        Variant::MinFcall => minimal_pair(c, &s.hashes, true, n).await,
        Variant::Writes => writes_pair(c, &s.hashes, n).await,
        Variant::Store | Variant::StoreElsewhere => {
            let u = &s.users[usize::try_from(i).unwrap_or(0).wrapping_add(t) % s.users.len()];
            let p = s.manager.create(u, spec()).await.expect("create");
            let completer = other.unwrap_or(&s.manager);
            std::hint::black_box(completer.complete(p).await.expect("complete"));
        }
    }
}

/// `n` pairs of `variant` spread over `tasks` tasks; returns pairs per second, Redis's
/// main-thread CPU time per pair (µs) and this process's CPU time per pair (µs).
async fn run(s: &Arc<Setup>, variant: Variant, tasks: usize, n: u64) -> (f64, f64, f64) {
    let mut stats = s.stats.clone();
    // `OOB_BENCH_COMMANDSTATS=1` prints what Redis spent per command (to profile).
    let cmdstats = std::env::var_os("OOB_BENCH_COMMANDSTATS").is_some();
    let cmd_before = if cmdstats {
        commandstats(&mut stats).await
    } else {
        Vec::new()
    };
    let before = redis_cpu_us(&mut stats).await;
    let other = match variant {
        Variant::StoreElsewhere => Some(manager(&s.client, "{bench}:", 1_000).await),
        _ => None,
    };
    let client_before = client_cpu_ns();
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let s = s.clone();
            let other = other.clone();
            let share = n / tasks as u64 + u64::from((t as u64) < n % tasks as u64);
            tokio::spawn(async move {
                let mut c = s.conn.clone();
                for i in 0..share {
                    pair(&s, &mut c, variant, (t, i), other.as_ref()).await;
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("task");
    }
    #[allow(clippy::cast_precision_loss)]
    let rate = n as f64 / start.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let client = client_cpu_ns().saturating_sub(client_before) as f64 / 1e3 / n as f64;
    let after = redis_cpu_us(&mut stats).await;
    if cmdstats {
        let cmd_after = commandstats(&mut stats).await;
        let mut line = format!("{variant:?} x{tasks}:");
        for (name, calls, usec) in &cmd_after {
            let (c0, u0) = cmd_before
                .iter()
                .find(|(b, _, _)| b == name)
                .map_or((0, 0), |(_, c, u)| (*c, *u));
            if calls > &c0 {
                #[allow(clippy::cast_precision_loss)]
                let per_pair = (usec - u0) as f64 / n as f64;
                line.push_str(&format!(
                    " {name} {}/pair {per_pair:.2}us;",
                    (calls - c0) / n
                ));
            }
        }
        println!("{line}");
    }
    #[allow(clippy::cast_precision_loss)]
    let server = (after - before) / n as f64;
    (rate, server, client)
}

async fn throughput(s: &Arc<Setup>) {
    const VARIANTS: [Variant; 6] = [
        Variant::Raw,
        Variant::MinEval,
        Variant::MinFcall,
        Variant::Writes,
        Variant::Store,
        Variant::StoreElsewhere,
    ];
    println!("\n## Throughput: median pairs/s of {ROUNDS} interleaved rounds (min-max)\n");
    println!(
        "| tasks | raw SET+DEL | minimal pair EVALSHA | minimal pair FCALL | store's writes EVALSHA | store | store / minimal EVALSHA | store / minimal FCALL | store / store's writes | store / raw | store, completed by another replica | that / minimal EVALSHA |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut redis_us = Vec::new();
    // `OOB_BENCH_VARIANTS=Store,MinEval` runs only those (to profile one); the others'
    // cells read NaN.
    let only = std::env::var("OOB_BENCH_VARIANTS").ok();
    let wanted = |v: Variant| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|w| w == format!("{v:?}")))
    };
    // `OOB_BENCH_TASKS=64` runs only that many tasks.
    let task_counts = std::env::var("OOB_BENCH_TASKS").ok();
    for tasks in [1, 64]
        .into_iter()
        .filter(|t| task_counts.as_deref().is_none_or(|w| w == t.to_string()))
    {
        let n = if tasks == 1 { 2_000 } else { 20_000 };
        // Warm-up.
        for v in VARIANTS.into_iter().filter(|v| wanted(*v)) {
            run(s, v, tasks, n / 4).await;
        }
        let mut rates: Vec<Vec<f64>> = vec![Vec::new(); VARIANTS.len()];
        let mut server: Vec<Vec<f64>> = vec![Vec::new(); VARIANTS.len()];
        let mut client: Vec<Vec<f64>> = vec![Vec::new(); VARIANTS.len()];
        for _ in 0..ROUNDS {
            for (k, v) in VARIANTS.iter().enumerate() {
                let (rate, us, cl) = if wanted(*v) {
                    run(s, *v, tasks, n).await
                } else {
                    (f64::NAN, f64::NAN, f64::NAN)
                };
                rates[k].push(rate);
                server[k].push(us);
                client[k].push(cl);
            }
        }
        let us: Vec<String> = server
            .iter()
            .zip(&client)
            .map(|(r, c)| format!("{:.1} / {:.1}", median(r.clone()).0, median(c.clone()).0))
            .collect();
        redis_us.push(format!("| {tasks} | {} |", us.join(" | ")));
        let ratio = |a: usize, b: usize| {
            median(
                rates[a]
                    .iter()
                    .zip(&rates[b])
                    .map(|(x, y)| 100.0 * x / y)
                    .collect(),
            )
        };
        let cell = |(m, lo, hi): (f64, f64, f64)| format!("{m:.0} ({lo:.0}-{hi:.0})");
        let pct = |(m, lo, hi): (f64, f64, f64)| format!("{m:.0} % ({lo:.0}-{hi:.0})");
        println!(
            "| {tasks} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(median(rates[0].clone())),
            cell(median(rates[1].clone())),
            cell(median(rates[2].clone())),
            cell(median(rates[3].clone())),
            cell(median(rates[4].clone())),
            pct(ratio(4, 1)),
            pct(ratio(4, 2)),
            pct(ratio(4, 3)),
            pct(ratio(4, 0)),
            cell(median(rates[5].clone())),
            pct(ratio(5, 1)),
        );
    }
    println!("\nCPU µs per pair, Redis's main thread / this process (median of the rounds):\n");
    println!(
        "| tasks | raw SET+DEL | minimal pair EVALSHA | minimal pair FCALL | store's writes EVALSHA | store | store, completed by another replica |"
    );
    println!("|---|---|---|---|---|---|---|");
    for line in redis_us {
        println!("{line}");
    }
}

fn main() {
    let Some(server) = Server::start() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let url = server.url();
    rt.block_on(async {
        let s = Arc::new(setup(&url).await);
        let only = std::env::args().find(|a| a == "throughput" || a == "growth");
        if only.as_deref() != Some("growth") {
            throughput(&s).await;
        }
        if only.as_deref() != Some("throughput") {
            growth::growth(&s, &url).await;
        }
    });
    drop(rt);
    drop(server);
}
