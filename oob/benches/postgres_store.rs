//! Create+complete pairs on the Postgres store against a raw `INSERT`+`DELETE` baseline on
//! the same pool, in the same run.
//!
//! Run with `cargo bench -p oob --features postgres --bench postgres_store`. Starts its own
//! Postgres (`initdb` in a temporary directory, loopback, a free port; as the `postgres`
//! user when run as root; default durability: `fsync` and `synchronous_commit` on) and
//! skips with a notice when it is not installed. At 1 and 64 concurrent tasks on one pool
//! (64 connections): a create followed by a complete of the same pending through the
//! manager (a store with the default retention, and one with zero retention), and a raw
//! `INSERT` of a row of the record's size then its `DELETE`, all in interleaved rounds
//! (the order rotates each round). Prints, per task count, the median pairs/s of each and the
//! median and range of the per-round ratios store / raw. `OOB_BENCH_PG_OPTS` adds server
//! options (e.g. `-c fsync=off`); `OOB_BENCH_ROUNDS` sets the rounds (default 7).
//!
//! With `OOB_BENCH_GROWTH=1` it measures instead how one task's operations cost as data
//! grows: a create+complete pair in a namespace holding 10, then 10,000 open pendings, with
//! 0, then 100,000 finished records retained in the store, a get, and a list of a namespace
//! of 10 (three rounds alternating the sizes; medians).

use std::io::Write;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::store::PostgresStore;
use oob::time::SystemClock;
use oob::{CallbackBase, Manager, Namespace, OobPayload, PendingId, Spec};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

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

type M = Manager<DeviceCode, PostgresStore<DeviceCode>, FromVerifiedSubject>;

#[path = "postgres_store/growth.rs"]
mod growth;

/// (tasks, pairs per task) of each measured configuration.
const RUNS: [(usize, usize); 2] = [(1, 300), (64, 40)];

/// A Postgres under a watchdog that stops it when this process ends.
struct Server {
    port: u16,
    dir: PathBuf,
    _watchdog: (Child, ChildStdin),
}

fn bin() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .collect();
    dirs.sort();
    dirs.into_iter().rev().find(|d| d.join("initdb").is_file())
}

fn sh(cmd: &mut Command) {
    let ok = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "{cmd:?} failed");
}

impl Server {
    fn start() -> Option<Self> {
        let Some(bin) = bin() else {
            let _ = writeln!(
                std::io::stderr(),
                "NOTICE: Postgres is not installed; skipping (apt-get install -y postgresql)"
            );
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let dir = std::env::temp_dir().join(format!("oob-pg-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        let prefix = if root { "runuser -u postgres --" } else { "" };
        if root {
            sh(Command::new("chown").arg("postgres:postgres").arg(&dir));
        }
        let data = dir.join("data");
        let as_pg = |program: &str| {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!("{prefix} \"$0\" \"$@\""))
                .arg(bin.join(program));
            c
        };
        sh(as_pg("initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
        ]));
        sh(as_pg("pg_ctl")
            .arg("start")
            .arg("-D")
            .arg(&data)
            .args(["-w", "-l"])
            .arg(dir.join("log"))
            .arg("-o")
            .arg(format!(
                "-c listen_addresses=127.0.0.1 -p {port} -k {} -c max_connections=200 {}",
                dir.display(),
                std::env::var("OOB_BENCH_PG_OPTS").unwrap_or_default()
            )));
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"read -r _; $1 "$2" stop -D "$3" -m immediate -w >/dev/null 2>&1"#)
            .arg("sh")
            .arg(prefix)
            .arg(bin.join("pg_ctl"))
            .arg(&data)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("watchdog");
        let stdin = child.stdin.take().expect("stdin");
        Some(Self {
            port,
            dir,
            _watchdog: (child, stdin),
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self._watchdog.1.write_all(b"stop\n");
        let _ = self._watchdog.0.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn pairs_store(m: &M, tasks: usize, per_task: usize) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let m = m.clone();
            tokio::spawn(async move {
                let who = Some(VerifiedSubject::new(
                    Namespace::new(format!("user-{t}")).expect("namespace"),
                ));
                for _ in 0..per_task {
                    let open = m.create(&who, spec()).await.expect("create");
                    m.complete(open).await.expect("complete");
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("join");
    }
    start.elapsed()
}

async fn pairs_raw(pool: &PgPool, tasks: usize, per_task: usize, data: &str) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let pool = pool.clone();
            let data = data.to_owned();
            tokio::spawn(async move {
                for _ in 0..per_task {
                    let id = PendingId::random().to_string();
                    sqlx::query("INSERT INTO bench.raw (id, data) VALUES ($1::uuid, $2)")
                        .bind(&id)
                        .bind(&data)
                        .execute(&pool)
                        .await
                        .expect("insert");
                    sqlx::query("DELETE FROM bench.raw WHERE id = $1::uuid")
                        .bind(&id)
                        .execute(&pool)
                        .await
                        .expect("delete");
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("join");
    }
    start.elapsed()
}

fn rate(pairs: usize, d: Duration) -> f64 {
    pairs as f64 / d.as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn range(v: &[f64]) -> (f64, f64) {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}

fn manager(store: PostgresStore<DeviceCode>) -> M {
    Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .clock(SystemClock)
        .build()
}

#[tokio::main]
async fn main() {
    let Some(server) = Server::start() else {
        return;
    };
    if std::env::var_os("OOB_BENCH_GROWTH").is_some() {
        let url = format!("postgres://postgres@127.0.0.1:{}/postgres", server.port);
        let pool = PgPool::connect(&url).await.expect("pool");
        growth::growth(&pool).await;
        drop(server);
        return;
    }
    let rounds: usize = std::env::var("OOB_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", server.port);
    let pool = PgPoolOptions::new()
        .max_connections(64)
        .connect(&url)
        .await
        .expect("pool");
    let keep = PostgresStore::<DeviceCode>::builder(pool.clone())
        .build()
        .await
        .expect("store");
    keep.migrate().await.expect("migrate");
    let zero = PostgresStore::<DeviceCode>::builder(pool.clone())
        .schema("oob_zero")
        .retention(Duration::ZERO)
        .build()
        .await
        .expect("store");
    zero.migrate().await.expect("migrate");
    sqlx::raw_sql(
        "CREATE SCHEMA bench; CREATE TABLE bench.raw (id uuid PRIMARY KEY, data text NOT NULL)",
    )
    .execute(&pool)
    .await
    .expect("raw table");
    let (keep, zero) = (manager(keep), manager(zero));
    // A row of the record's size: the payload JSON, labels, namespace and times.
    let data = "x".repeat(200);
    // Warm-up: connections, prepared statements, the function's plan.
    pairs_store(&keep, 64, 10).await;
    pairs_store(&zero, 64, 10).await;
    pairs_raw(&pool, 64, 10, &data).await;
    println!(
        "tasks  rounds  store pairs/s  zero-ret pairs/s  raw pairs/s  \
         store/raw median (range)  zero-ret/raw median (range)"
    );
    for (tasks, per_task) in RUNS {
        let pairs = tasks * per_task;
        let (mut s, mut z, mut r) = (Vec::new(), Vec::new(), Vec::new());
        for round in 0..rounds {
            let mut got = [0.0; 3];
            for k in 0..3 {
                let which = (round + k) % 3;
                let d = match which {
                    0 => pairs_store(&keep, tasks, per_task).await,
                    1 => pairs_store(&zero, tasks, per_task).await,
                    _ => pairs_raw(&pool, tasks, per_task, &data).await,
                };
                got[which] = rate(pairs, d);
            }
            s.push(got[0]);
            z.push(got[1]);
            r.push(got[2]);
        }
        let ratio =
            |x: &[f64]| -> Vec<f64> { x.iter().zip(&r).map(|(a, b)| 100.0 * a / b).collect() };
        let (sr, zr) = (ratio(&s), ratio(&z));
        let ((s_lo, s_hi), (z_lo, z_hi)) = (range(&sr), range(&zr));
        println!(
            "{tasks:>5}  {rounds:>6}  {:>13.0}  {:>16.0}  {:>11.0}  {:>8.0} % ({s_lo:.0}-{s_hi:.0})  \
             {:>11.0} % ({z_lo:.0}-{z_hi:.0})",
            median(s),
            median(z),
            median(r.clone()),
            median(sr),
            median(zr),
        );
    }
    drop(server);
}
