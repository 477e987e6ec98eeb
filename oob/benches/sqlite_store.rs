//! Timings of the SQLite store against raw SQLite on the same schema and pragmas.
//!
//! Run with `cargo bench -p oob --bench sqlite_store --features sqlite`. Measures a create
//! immediately followed by a complete of the same id through a `Manager` on the store (the
//! store SPI takes only manager-made records), with 1 and 64 concurrent tasks on a temp-file
//! WAL database (`synchronous=NORMAL`), and as the baseline a raw `INSERT` then `DELETE` of a
//! row of the same table, issued as two jobs to a connection thread of its own on the same
//! file and pragmas, which batches waiting jobs into one transaction as the store's thread
//! does. Criterion reports wall time per pair; then the store's throughput is measured as a
//! share of the raw one in alternating rounds (so load from other processes hits both alike)
//! and printed.
//!
//! With `SQLITE_BENCH=growth` it measures instead how one task's operations cost as the data
//! grows (`sqlite_store/growth.rs`), including creates with a total bound set.

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::store::SqliteStore;
use oob::time::{Clock, SystemClock};
use oob::{CallbackBase, Manager, Namespace, OobPayload, PendingId, Spec};

type M = Manager<DeviceCode, SqliteStore<DeviceCode>, FromVerifiedSubject>;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, OobPayload)]
#[oob(kind = "device_code", route = "/oob/cb/{id}")]
struct DeviceCode {
    verify_url: String,
    user_code: String,
    message: String,
}

fn payload() -> DeviceCode {
    DeviceCode {
        verify_url: "https://ex.com/device".into(),
        user_code: "ABCD-1234".into(),
        message: "Enter the code".into(),
    }
}

struct TempDb(PathBuf);

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

fn temp_store(retention: Duration) -> (SqliteStore<DeviceCode>, TempDb, RawDb) {
    let path = std::env::temp_dir().join(format!("oob-bench-{}.db", PendingId::random()));
    let store = SqliteStore::open(&path)
        .expect("open")
        .with_retention(retention);
    let raw = RawDb::open(&path);
    (store, TempDb(path), raw)
}

fn namespaces() -> Vec<VerifiedSubject> {
    (0..64)
        .map(|i| VerifiedSubject::new(Namespace::new(format!("user-{i}")).expect("namespace")))
        .collect()
}

fn manager(store: &SqliteStore<DeviceCode>) -> M {
    Manager::builder()
        .store(store.clone())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .build()
}

async fn store_pair(m: &M, user: &VerifiedSubject) {
    let spec = Spec::new(payload())
        .resource("example.com")
        .ttl(Duration::from_secs(600));
    let open = m.create(user, spec).await.expect("create");
    black_box(m.complete(open).await.expect("complete"));
}

/// The raw baseline's own connection thread on the same file, schema and pragmas, batching
/// the jobs waiting for it into one transaction as the store's thread does (up to 256).
#[derive(Clone)]
struct RawDb {
    jobs: std::sync::mpsc::Sender<(Job, tokio::sync::oneshot::Sender<()>)>,
}

type Job = Box<dyn FnOnce(&rusqlite::Connection) + Send>;

impl RawDb {
    fn open(path: &std::path::Path) -> Self {
        let conn = rusqlite::Connection::open(path).expect("open raw");
        conn.pragma_update(None, "journal_mode", "WAL")
            .expect("wal");
        conn.pragma_update(None, "synchronous", "NORMAL")
            .expect("sync");
        conn.busy_timeout(Duration::from_secs(5)).expect("busy");
        let (tx, rx) = std::sync::mpsc::channel::<(Job, tokio::sync::oneshot::Sender<()>)>();
        std::thread::spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                while batch.len() < 256 {
                    match rx.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                conn.execute_batch("BEGIN").expect("begin");
                let mut replies = Vec::with_capacity(batch.len());
                for (job, reply) in batch {
                    job(&conn);
                    replies.push(reply);
                }
                conn.execute_batch("COMMIT").expect("commit");
                for r in replies {
                    let _ = r.send(());
                }
            }
        });
        Self { jobs: tx }
    }

    async fn run(&self, job: impl FnOnce(&rusqlite::Connection) + Send + 'static) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs.send((Box::new(job), tx)).expect("raw thread");
        rx.await.expect("raw reply");
    }
}

async fn raw_pair(raw: &RawDb, user: &VerifiedSubject) {
    let ns = user.namespace();
    let now = i64::try_from(SystemClock.now().as_millis()).expect("time");
    let id = PendingId::random();
    let data = serde_json::to_string(&payload()).expect("json");
    let namespace = ns.as_str().to_owned();
    raw.run(move |conn| {
        conn.prepare_cached(
            "INSERT INTO oob_pendings (id, namespace, kind, alias, resource, elicit_id, \
             data, created_at, expires_at, state, reason, finished_at) \
             VALUES (?1, ?2, 'device_code', NULL, 'example.com', NULL, ?3, ?4, ?5, 'open', \
             NULL, NULL)",
        )
        .and_then(|mut st| {
            st.execute(rusqlite::params![
                &id.as_bytes()[..],
                namespace,
                data,
                now,
                now + 600_000
            ])
        })
        .expect("insert");
    })
    .await;
    raw.run(move |conn| {
        conn.prepare_cached("DELETE FROM oob_pendings WHERE id = ?1")
            .and_then(|mut st| st.execute(rusqlite::params![&id.as_bytes()[..]]))
            .expect("delete");
    })
    .await;
}

#[derive(Clone, Copy)]
enum Kind {
    Store,
    Raw,
}

fn run(
    rt: &tokio::runtime::Runtime,
    store: &SqliteStore<DeviceCode>,
    raw: &RawDb,
    kind: Kind,
    tasks: u64,
    iters: u64,
) -> Duration {
    let nss = Arc::new(namespaces());
    let m = manager(store);
    rt.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let raw = raw.clone();
                let m = m.clone();
                let nss = nss.clone();
                let n = iters / tasks + u64::from(t < iters % tasks);
                tokio::spawn(async move {
                    let ns = &nss[usize::try_from(t).unwrap_or(0) % nss.len()];
                    for _ in 0..n {
                        match kind {
                            Kind::Store => store_pair(&m, ns).await,
                            Kind::Raw => raw_pair(&raw, ns).await,
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.expect("task");
        }
        start.elapsed()
    })
}

fn pairs(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("sqlite create+complete (time per pair)");
    for tasks in [1u64, 64] {
        for (label, kind, retention) in [
            ("raw INSERT+DELETE", Kind::Raw, Duration::ZERO),
            ("store, retention 0", Kind::Store, Duration::ZERO),
            (
                "store, retention 300s",
                Kind::Store,
                oob::store::sqlite::DEFAULT_RETENTION,
            ),
        ] {
            let (store, _db, raw) = temp_store(retention);
            let name = format!("{label}, {tasks} task{}", if tasks == 1 { "" } else { "s" });
            g.bench_function(&name, |b| {
                b.iter_custom(|iters| run(&rt, &store, &raw, kind, tasks, iters));
            });
        }
    }
    g.finish();
}

/// Throughput of store and raw measured in alternating rounds, so that load from other
/// processes on the machine hits both alike.
fn interleaved(rt: &tokio::runtime::Runtime) {
    println!("\ninterleaved rounds (store vs raw on the same schema, pragmas and thread):");
    for (tasks, n, rounds) in [(1u64, 1_000u64, 5), (64, 5_000, 5)] {
        let kinds = [
            ("raw INSERT+DELETE", Kind::Raw, Duration::ZERO),
            ("store, retention 0", Kind::Store, Duration::ZERO),
            (
                "store, retention 300s",
                Kind::Store,
                oob::store::sqlite::DEFAULT_RETENTION,
            ),
        ];
        let stores: Vec<_> = kinds.iter().map(|k| temp_store(k.2)).collect();
        let mut totals = [Duration::ZERO; 3];
        for _ in 0..rounds {
            for (i, (_, kind, _)) in kinds.iter().enumerate() {
                totals[i] += run(rt, &stores[i].0, &stores[i].2, *kind, tasks, n);
            }
        }
        let pairs = (n * rounds) as f64;
        let raw = pairs / totals[0].as_secs_f64();
        for (i, (label, _, _)) in kinds.iter().enumerate() {
            let rate = pairs / totals[i].as_secs_f64();
            println!(
                "  {tasks:>2} task(s), {label:<22} {rate:>8.0} pairs/s  {:>6.1} us/pair  {:>4.0}% of raw",
                1e6 / rate,
                100.0 * rate / raw
            );
        }
    }
}

#[path = "sqlite_store/growth.rs"]
mod growth;

fn main() {
    if std::env::var("SQLITE_BENCH").as_deref() == Ok("growth") {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        growth::growth(&rt);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    pairs(&mut c);
    c.final_summary();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    interleaved(&rt);
}
