//! Timings and command counts of the Redis store against a raw `SET`+`DEL` baseline.
//!
//! Run with `cargo bench -p oob --features redis --bench redis_store`. Starts its own
//! `redis-server` (loopback, no persistence) and skips with a notice when it is not
//! installed. Measures, at 1 and 64 concurrent tasks on one store (one multiplexed
//! connection): a create followed by a complete of the same pending (through the manager),
//! and a raw `SET` then `DEL` of a key with a value of the record's size, on the same client.
//! Prints the server's `INFO commandstats` deltas per operation (commands run inside
//! scripts are counted there too, under their own names) and a summary of pairs/s.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::store::RedisStore;
use oob::time::SystemClock;
use oob::{CallbackBase, Manager, Namespace, OobPayload, Spec};
use redis::aio::ConnectionManager;

/// The device-code payload of the other benches.
#[derive(Clone, OobPayload, serde::Serialize, serde::Deserialize)]
#[oob(kind = "device_code", route = "/oob/cb/{id}")]
struct DeviceCode {
    verify_url: String,
    user_code: String,
    message: String,
}

fn spec() -> Spec<DeviceCode> {
    Spec::new(DeviceCode {
        verify_url: "https://ex.com/device".into(),
        user_code: "ABCD-1234".into(),
        message: "Enter the code".into(),
    })
    .resource("example.com")
    .ttl(Duration::from_secs(600))
}

type M = Manager<DeviceCode, RedisStore<DeviceCode>, FromVerifiedSubject>;

const TASKS: [usize; 2] = [1, 64];

/// A `redis-server` under a watchdog shell that kills it when this process ends.
struct Server {
    port: u16,
    watchdog: Option<(Child, ChildStdin)>,
}

impl Server {
    fn start() -> Option<Self> {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            eprintln!("NOTICE: redis-server is not installed; skipping the Redis benchmark");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"redis-server "$@" & p=$!; read -r _; kill -9 "$p"; wait "$p"; exit 0"#)
            .arg("sh")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--logfile", ""])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let stdin = child.stdin.take().expect("stdin");
        let server = Self {
            port,
            watchdog: Some((child, stdin)),
        };
        let start = Instant::now();
        while !ping(port) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Some(server)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some((mut child, mut stdin)) = self.watchdog.take() {
            let _ = stdin.write_all(b"kill\n");
            drop(stdin);
            let _ = child.wait();
        }
    }
}

fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

struct Setup {
    manager: M,
    raw: ConnectionManager,
    stats: ConnectionManager,
    users: Arc<Vec<VerifiedSubject>>,
    value: Arc<String>,
}

async fn setup(url: &str) -> Setup {
    let client = redis::Client::open(url).expect("client");
    let store = RedisStore::builder(client.clone())
        .prefix("bench:")
        .connect()
        .await
        .expect("connect");
    let manager = Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .clock(SystemClock)
        .build();
    // The raw baseline uses a connection manager configured like the store's.
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(2)))
        .set_number_of_retries(0);
    let raw = ConnectionManager::new_with_config(client.clone(), config)
        .await
        .expect("raw");
    let stats = ConnectionManager::new(client).await.expect("stats");
    let users = (0..1_000)
        .map(|i| VerifiedSubject::new(Namespace::new(format!("user-{i}")).expect("namespace")))
        .collect();
    Setup {
        manager,
        raw,
        stats,
        users: Arc::new(users),
        // About the size of a stored record's fields.
        value: Arc::new("x".repeat(220)),
    }
}

/// `n` create+complete pairs spread over `tasks` tasks; returns the wall time.
async fn pairs(s: &Setup, tasks: usize, n: u64) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let m = s.manager.clone();
            let users = s.users.clone();
            let share = n / tasks as u64 + u64::from((t as u64) < n % tasks as u64);
            tokio::spawn(async move {
                for i in 0..share {
                    let u = &users[(i as usize * tasks + t) % users.len()];
                    let p = m.create(u, spec()).await.expect("create");
                    std::hint::black_box(m.complete(p).await.expect("complete"));
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("task");
    }
    start.elapsed()
}

/// `n` raw SET+DEL pairs spread over `tasks` tasks; returns the wall time.
async fn raw_pairs(s: &Setup, tasks: usize, n: u64) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let mut c = s.raw.clone();
            let value = s.value.clone();
            let share = n / tasks as u64 + u64::from((t as u64) < n % tasks as u64);
            tokio::spawn(async move {
                for i in 0..share {
                    let key = format!("raw:{t}:{i}");
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(value.as_str())
                        .exec_async(&mut c)
                        .await
                        .expect("SET");
                    redis::cmd("DEL")
                        .arg(&key)
                        .exec_async(&mut c)
                        .await
                        .expect("DEL");
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("task");
    }
    start.elapsed()
}

/// `INFO commandstats` as (command, calls, microseconds).
async fn commandstats(c: &mut ConnectionManager) -> Vec<(String, u64, u64)> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(c)
        .await
        .expect("INFO");
    info.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("cmdstat_")?;
            let (name, stats) = rest.split_once(':')?;
            let field = |f: &str| {
                stats
                    .split(',')
                    .find_map(|kv| kv.strip_prefix(f))
                    .and_then(|v| v.parse::<u64>().ok())
            };
            Some((name.to_owned(), field("calls=")?, field("usec=")?))
        })
        .collect()
}

async fn count_commands(s: &Setup, label: &str, n: u64, run: impl AsyncFnOnce()) {
    let mut c = s.stats.clone();
    let before = commandstats(&mut c).await;
    run().await;
    let after = commandstats(&mut c).await;
    // Time spent in the commands the client sent (scripts include what they call).
    let mut top_usec = 0;
    let mut deltas: Vec<(String, f64, f64)> = Vec::new();
    for (name, calls, usec) in after.iter().filter(|(name, _, _)| name != "info") {
        let (was, was_usec) = before
            .iter()
            .find(|(b, _, _)| b == name)
            .map_or((0, 0), |(_, v, u)| (*v, *u));
        let (dc, du) = (calls - was, usec - was_usec);
        if dc == 0 {
            continue;
        }
        if ["evalsha", "set", "del"].contains(&name.as_str()) {
            top_usec += du;
        }
        #[allow(clippy::cast_precision_loss)]
        deltas.push((name.clone(), dc as f64 / n as f64, du as f64 / dc as f64));
    }
    deltas.sort_by(|a, b| a.0.cmp(&b.0));
    let shown: Vec<String> = deltas
        .iter()
        .map(|(name, per, us)| format!("{name} {per:.2} ({us:.2} us each)"))
        .collect();
    println!(
        "commands per {label} (server-side, incl. those inside scripts): {}",
        shown.join(", ")
    );
    #[allow(clippy::cast_precision_loss)]
    let per = top_usec as f64 / n as f64;
    println!("server time in commands per {label}: {per:.1} us");
}

fn bench(c: &mut Criterion) {
    let Some(server) = Server::start() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let s = rt.block_on(setup(&server.url()));

    rt.block_on(async {
        count_commands(&s, "create+complete pair", 1_000, async || {
            pairs(&s, 1, 1_000).await;
        })
        .await;
        count_commands(&s, "raw SET+DEL pair", 1_000, async || {
            raw_pairs(&s, 1, 1_000).await;
        })
        .await;
    });

    let mut g = c.benchmark_group("redis");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(3));
    for tasks in TASKS {
        g.bench_with_input(
            BenchmarkId::new("store create+complete", format!("{tasks} tasks")),
            &tasks,
            |b, &tasks| b.to_async(&rt).iter_custom(|n| pairs(&s, tasks, n)),
        );
        g.bench_with_input(
            BenchmarkId::new("raw SET+DEL", format!("{tasks} tasks")),
            &tasks,
            |b, &tasks| b.to_async(&rt).iter_custom(|n| raw_pairs(&s, tasks, n)),
        );
    }
    g.finish();

    // A direct comparison in one run, for the README, with the CPU each side used.
    for tasks in TASKS {
        let n = if tasks == 1 { 5_000 } else { 40_000 };
        let (store, store_cpu) = rt.block_on(cpu(&s, pairs(&s, tasks, n)));
        let (raw, raw_cpu) = rt.block_on(cpu(&s, raw_pairs(&s, tasks, n)));
        #[allow(clippy::cast_precision_loss)]
        let (sp, rp) = (n as f64 / store.as_secs_f64(), n as f64 / raw.as_secs_f64());
        println!(
            "{tasks} tasks: store {sp:.0} pairs/s, raw SET+DEL {rp:.0} pairs/s, ratio {:.0}%",
            100.0 * sp / rp
        );
        let per = |d: Duration| d.as_secs_f64() * 1e6 / n as f64;
        println!(
            "  cpu per pair: store: server {:.1} us, client {:.1} us; raw: server {:.1} us, client {:.1} us",
            per(store_cpu.0),
            per(store_cpu.1),
            per(raw_cpu.0),
            per(raw_cpu.1)
        );
    }
    drop(s);
    drop(rt);
    drop(server);
}

/// Runs `f`, returning its result and the CPU time (server, this process) it took.
async fn cpu<R>(s: &Setup, f: impl Future<Output = R>) -> (R, (Duration, Duration)) {
    let mut c = s.stats.clone();
    let (s0, c0) = (server_cpu(&mut c).await, own_cpu());
    let r = f.await;
    let (s1, c1) = (server_cpu(&mut c).await, own_cpu());
    (r, (s1.saturating_sub(s0), c1.saturating_sub(c0)))
}

/// The server's user+system CPU time.
async fn server_cpu(c: &mut ConnectionManager) -> Duration {
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query_async(c)
        .await
        .expect("INFO");
    let secs: f64 = info
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k == "used_cpu_user" || k == "used_cpu_sys").then(|| v.trim().parse::<f64>().ok())?
        })
        .sum();
    Duration::from_secs_f64(secs)
}

/// This process's user+system CPU time (Linux; zero elsewhere).
fn own_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = after
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    // Clock ticks of 10 ms (USER_HZ = 100 on Linux).
    Duration::from_millis(f.iter().sum::<u64>() * 10)
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
