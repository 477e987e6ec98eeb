//! Timings of the memory store on the Go reference's workload (see `common`).
//!
//! Run with `cargo bench -p oob --bench memory_store`. Measures a create immediately
//! followed by a complete of the same id (one task; two tasks on two threads), get on a
//! store of 100,000 open pendings, and list of one namespace (10 pendings) on stores of
//! 10,000 and 1,000,000 pendings (100,000 namespaces). The one-task pair and get are also
//! measured on `CoarseClock`, which takes the system-clock reads off those paths.

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Owned, Shared, Workload, fill, manager, manager_clocked, ready, spec, users};
use criterion::{BenchmarkId, Criterion};

fn create_complete<P: Workload>(c: &mut Criterion) {
    let users = users(1_000);
    let mut g = c.benchmark_group(format!("create+complete ({})", P::NAME));
    for (label, retention, coarse) in [
        ("1 task, retention 0", Duration::ZERO, false),
        (
            "1 task, retention 300s (default)",
            oob::store::memory::DEFAULT_RETENTION,
            false,
        ),
        ("1 task, retention 0, coarse clock", Duration::ZERO, true),
    ] {
        let m = manager_clocked::<P>(retention, coarse);
        let mut i = 0usize;
        g.bench_function(label, |b| {
            b.iter(|| {
                let u = &users[i % users.len()];
                i += 1;
                let p = ready(m.create(u, spec::<P>())).expect("create");
                black_box(ready(m.complete(p)).expect("complete"));
            });
        });
    }
    // Two tasks on two threads against one store; the figure is wall time per pair.
    let m = Arc::new(manager::<P>(Duration::ZERO));
    let users = Arc::new(users);
    g.bench_function("2 tasks, retention 0 (time per pair)", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            std::thread::scope(|s| {
                for t in 0..2u64 {
                    let (m, users) = (m.clone(), users.clone());
                    s.spawn(move || {
                        let n = iters / 2 + if t == 0 { iters % 2 } else { 0 };
                        for i in 0..n {
                            let u = &users[(i as usize * 2 + t as usize) % users.len()];
                            let p = ready(m.create(u, spec::<P>())).expect("create");
                            black_box(ready(m.complete(p)).expect("complete"));
                        }
                    });
                }
            });
            start.elapsed()
        });
    });
    // 64 tokio tasks on a 2-worker runtime, like the SQLite and Redis benches; the figure is
    // wall time per pair, so 1 / figure is the throughput.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    g.bench_function("64 tasks, retention 0 (time per pair)", |b| {
        b.iter_custom(|iters| {
            let (m, users) = (m.clone(), users.clone());
            rt.block_on(async move {
                let start = Instant::now();
                let tasks: Vec<_> = (0..64u64)
                    .map(|t| {
                        let (m, users) = (m.clone(), users.clone());
                        let n = iters / 64 + u64::from(t < iters % 64);
                        tokio::spawn(async move {
                            for i in 0..n {
                                let u = &users[(i as usize * 64 + t as usize) % users.len()];
                                let p = m.create(u, spec::<P>()).await.expect("create");
                                black_box(m.complete(p).await.expect("complete"));
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("task");
                }
                start.elapsed()
            })
        });
    });
    g.finish();
}

fn get<P: Workload>(c: &mut Criterion) {
    let users = users(1_000);
    for (label, coarse) in [("", false), (", coarse clock", true)] {
        let m = manager_clocked::<P>(Duration::ZERO, coarse);
        let ids = fill(&m, &users, 100_000);
        let mut i = 0usize;
        c.bench_function(&format!("get, 100,000 open ({}){label}", P::NAME), |b| {
            b.iter(|| {
                let id = ids[i % ids.len()];
                i += 1;
                black_box(ready(m.get(id)).expect("get"));
            });
        });
    }
}

fn list<P: Workload>(c: &mut Criterion) {
    let mut g = c.benchmark_group(format!("list one namespace of 10 ({})", P::NAME));
    for total in [10_000usize, 1_000_000] {
        let users = users(total / 10);
        let m = manager::<P>(Duration::ZERO);
        let _ = fill(&m, &users, total);
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("store size", total), |b| {
            b.iter(|| {
                let u = &users[i % users.len()];
                i += 7_919;
                black_box(ready(m.list(u)).expect("list"));
            });
        });
    }
    g.finish();
}

/// Time from the start of a `complete` to the waiting task running again, on a 2-worker
/// runtime; printed as median and p99 over many samples.
fn wake_latency() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let m = manager::<Owned>(Duration::ZERO);
    let users = users(1_000);
    let samples = 5_000;
    let mut lat: Vec<Duration> = rt.block_on(async {
        let mut lat = Vec::with_capacity(samples);
        for i in 0..samples {
            let p = m
                .create(&users[i % users.len()], spec::<Owned>())
                .await
                .expect("create");
            let id = p.id();
            let waiter = tokio::spawn({
                let m = m.clone();
                async move {
                    let out = m.wait(id, Duration::from_secs(10)).await;
                    (Instant::now(), out)
                }
            });
            while m.store().watched() == 0 {
                tokio::task::yield_now().await;
            }
            let start = Instant::now();
            m.complete(p).await.expect("complete");
            let (woke, ok) = waiter.await.expect("join");
            if let Err(e) = &ok {
                panic!("wait failed: {e:?}");
            }
            lat.push(woke.saturating_duration_since(start));
        }
        lat
    });
    lat.sort();
    println!(
        "wake latency complete -> waiter ({samples} samples, 2 workers): median {:?}, p99 {:?}",
        lat[lat.len() / 2],
        lat[lat.len() * 99 / 100]
    );
}

fn join(c: &mut Criterion) {
    let users = users(1_000);
    let m = manager::<Owned>(Duration::ZERO);
    // Every namespace has one open pending with this key, among 9 others.
    for u in &users {
        for k in 0..9 {
            let _ =
                ready(m.create(u, spec::<Owned>().alias(format!("other-{k}")))).expect("create");
        }
        let _ = ready(m.create(u, spec::<Owned>().alias("gh"))).expect("create");
    }
    let mut i = 0usize;
    c.bench_function(
        "create_or_join, joining (10 pendings in the namespace)",
        |b| {
            b.iter(|| {
                let u = &users[i % users.len()];
                i += 1;
                let j = ready(m.create_or_join(u, spec::<Owned>().alias("gh"))).expect("join");
                debug_assert!(j.is_joined());
                black_box(j);
            });
        },
    );
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    create_complete::<Owned>(&mut c);
    create_complete::<Shared>(&mut c);
    get::<Owned>(&mut c);
    list::<Owned>(&mut c);
    join(&mut c);
    c.final_summary();
    if !std::env::args().any(|a| a == "--list") {
        wake_latency();
    }
}
