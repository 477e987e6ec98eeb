//! The memory store on the fixed workload of the Go reference benchmark.
//!
//! Payload `{ verify_url, user_code, message }`, kind `device_code`, resource `example.com`,
//! namespaces `user-0` … `user-999` taken in turn, TTL 10 minutes, callback base
//! `https://ex.com`, route `/oob/cb/{id}`.
//!
//! Run with `cargo bench -p oob --bench memory_store`. It first prints heap bytes per open
//! pending (1,000,000 pendings over 1,000 namespaces, counted by a counting allocator), then
//! the timings.

use std::alloc::System;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::store::MemoryStore;
use oob::{CallbackBase, Manager, Namespace, OobPayload, Spec, Store};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[derive(Clone, OobPayload)]
#[oob(kind = "device_code", route = "/oob/cb/{id}")]
struct DeviceCode {
    verify_url: String,
    user_code: String,
    message: String,
}

type M = Manager<DeviceCode, MemoryStore<DeviceCode>, FromVerifiedSubject>;

fn spec() -> Spec<DeviceCode> {
    Spec::new(DeviceCode {
        verify_url: "https://ex.com/device".into(),
        user_code: "ABCD-1234".into(),
        message: "Enter the code".into(),
    })
    .resource("example.com")
    .ttl(Duration::from_secs(600))
}

fn manager(retention: Duration, per_namespace: usize) -> M {
    Manager::builder()
        .store(MemoryStore::new().with_retention(retention))
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .max_open_per_namespace(per_namespace)
        .build()
}

fn users(n: usize) -> Vec<VerifiedSubject> {
    (0..n)
        .map(|i| VerifiedSubject::new(Namespace::new(format!("user-{i}")).expect("ns")))
        .collect()
}

/// Runs a future that never suspends (the memory store's never do) without an executor.
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("memory store future suspended"),
    }
}

fn fill(m: &M, users: &[VerifiedSubject], n: usize) -> Vec<oob::PendingId> {
    (0..n)
        .map(|i| {
            ready(m.create(&users[i % users.len()], spec()))
                .expect("create")
                .id()
        })
        .collect()
}

fn heap_per_pending() {
    let users = users(1_000);
    let m = manager(Duration::ZERO, usize::MAX);
    let n = 1_000_000;
    let region = Region::new(GLOBAL);
    let ids = fill(&m, &users, n);
    let change = region.change();
    let ids_bytes = ids.capacity() * std::mem::size_of::<oob::PendingId>();
    let retained = change.bytes_allocated as i64 - change.bytes_deallocated as i64
        + change.bytes_reallocated as i64
        - ids_bytes as i64;
    println!(
        "heap bytes per open pending (1,000,000 over 1,000 namespaces): {:.1} (Go reference: 547; target <= 275)",
        retained as f64 / n as f64
    );
    drop(ids);
    drop(m);
}

fn create_complete(c: &mut Criterion) {
    let users = users(1_000);
    let mut g = c.benchmark_group("create+complete");
    for (label, retention) in [
        ("retention=0", Duration::ZERO),
        ("retention=default(300s)", oob::store::memory::DEFAULT_RETENTION),
    ] {
        let m = manager(retention, usize::MAX);
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("1 task", label), |b| {
            b.iter(|| {
                let u = &users[i % users.len()];
                i += 1;
                let p = ready(m.create(u, spec())).expect("create");
                black_box(ready(m.complete(p)).expect("complete"));
            });
        });
        // Purge retained records between runs, so the default-window run measures steady
        // state rather than an ever-growing store.
        let far = oob::time::Timestamp::from_millis(u64::MAX / 2);
        let _ = ready(m.store().purge(far));
    }
    // Two tasks on two threads against one store: time per pair of the whole run.
    let m = Arc::new(manager(Duration::ZERO, usize::MAX));
    let users = Arc::new(users);
    g.bench_function(BenchmarkId::new("2 tasks", "retention=0"), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            std::thread::scope(|s| {
                for t in 0..2u64 {
                    let m = m.clone();
                    let users = users.clone();
                    s.spawn(move || {
                        for i in 0..iters / 2 + (iters % 2) * t {
                            let u = &users[(i as usize * 2 + t as usize) % users.len()];
                            let p = ready(m.create(u, spec())).expect("create");
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

fn get(c: &mut Criterion) {
    let users = users(1_000);
    let m = manager(Duration::ZERO, usize::MAX);
    let ids = fill(&m, &users, 100_000);
    let mut i = 0usize;
    c.bench_function("get (100,000 open)", |b| {
        b.iter(|| {
            let id = ids[i % ids.len()];
            i += 1;
            black_box(ready(m.get(id)).expect("get"));
        });
    });
}

fn list(c: &mut Criterion) {
    let mut g = c.benchmark_group("list one namespace (10 pendings)");
    for total in [10_000usize, 1_000_000] {
        let users = users(total / 10);
        let m = manager(Duration::ZERO, usize::MAX);
        let _ = fill(&m, &users, total);
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("store size", total), |b| {
            b.iter(|| {
                let u = users[i % users.len()].namespace();
                i += 7919;
                let l = ready(m.list(u)).expect("list");
                debug_assert_eq!(l.len(), 10);
                black_box(l);
            });
        });
    }
    g.finish();
}

fn main() {
    heap_per_pending();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    create_complete(&mut c);
    get(&mut c);
    list(&mut c);
    c.final_summary();
}
