//! Timings of the memory store on the Go reference's workload (see `common`).
//!
//! Run with `cargo bench -p oob --bench memory_store`. Measures a create immediately
//! followed by a complete of the same id (one task; two tasks on two threads), get on a
//! store of 100,000 open pendings, and list of one namespace (10 pendings) on stores of
//! 10,000 and 1,000,000 pendings (100,000 namespaces).

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Owned, Shared, Workload, fill, manager, ready, spec, users};
use criterion::{BenchmarkId, Criterion};

fn create_complete<P: Workload>(c: &mut Criterion) {
    let users = users(1_000);
    let mut g = c.benchmark_group(format!("create+complete ({})", P::NAME));
    for (label, retention) in [
        ("1 task, retention 0", Duration::ZERO),
        (
            "1 task, retention 300s (default)",
            oob::store::memory::DEFAULT_RETENTION,
        ),
    ] {
        let m = manager::<P>(retention);
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
    g.finish();
}

fn get<P: Workload>(c: &mut Criterion) {
    let users = users(1_000);
    let m = manager::<P>(Duration::ZERO);
    let ids = fill(&m, &users, 100_000);
    let mut i = 0usize;
    c.bench_function(&format!("get, 100,000 open ({})", P::NAME), |b| {
        b.iter(|| {
            let id = ids[i % ids.len()];
            i += 1;
            black_box(ready(m.get(id)).expect("get"));
        });
    });
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
                let u = users[i % users.len()].namespace();
                i += 7_919;
                black_box(ready(m.list(u)).expect("list"));
            });
        });
    }
    g.finish();
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
    c.final_summary();
}
