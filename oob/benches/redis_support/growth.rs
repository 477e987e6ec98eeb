//! The Redis bench's growth part (see the bench's header): per-operation costs while one
//! namespace and then the store grow.

use std::sync::Arc;
use std::time::Instant;

use oob::Namespace;
use oob::provider::VerifiedSubject;

use super::redis_support::{redis_cpu_us, spec};
use super::{M, Setup, Variant, manager, pair};

/// Runs `op` `count` times in a row; returns (client µs per op, Redis main-thread CPU µs
/// per op).
async fn per_op(s: &Setup, count: u32, mut op: impl AsyncFnMut(u32)) -> (f64, f64) {
    let mut stats = s.stats.clone();
    let before = redis_cpu_us(&mut stats).await;
    let start = Instant::now();
    for i in 0..count {
        op(i).await;
    }
    let client = start.elapsed().as_secs_f64() * 1e6 / f64::from(count);
    let after = redis_cpu_us(&mut stats).await;
    let server = (after - before) / f64::from(count);
    (client, server)
}

/// Fills until `m`'s namespace `ns` holds `open` open pendings (with distinct resources).
async fn fill_open(m: &M, ns: &VerifiedSubject, from: usize, to: usize) {
    let handles: Vec<_> = (0..16)
        .map(|t| {
            let (m, ns) = (m.clone(), ns.clone());
            tokio::spawn(async move {
                for i in (from + t..to).step_by(16) {
                    let sp = spec().resource(format!("fill-{i}"));
                    m.create(&ns, sp).await.expect("fill");
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("fill task");
    }
}

/// Adds finished, retained records (create+complete) in 1,000 other namespaces.
async fn fill_retained(m: &M, users: &Arc<Vec<VerifiedSubject>>, from: usize, to: usize) {
    let handles: Vec<_> = (0..64)
        .map(|t| {
            let (m, users) = (m.clone(), users.clone());
            tokio::spawn(async move {
                for i in (from + t..to).step_by(64) {
                    let p = m.create(&users[i % users.len()], spec()).await.expect("c");
                    m.complete(p).await.expect("complete");
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("fill task");
    }
}

pub(crate) async fn growth(s: &Setup, url: &str) {
    const OPS: u32 = 500;
    let client = redis::Client::open(url).expect("client");
    let m = manager(&client, "{grow}:", 20_000).await;
    let big = VerifiedSubject::new(Namespace::new("big").expect("ns"));
    let small = VerifiedSubject::new(Namespace::new("small").expect("ns"));
    fill_open(&m, &small, 0, 10).await;
    println!("\n## Growth: per operation, client µs at 1 task / Redis main-thread CPU µs\n");
    println!(
        "| open in the namespace | retained in the store | create+complete | minimal pair (EVALSHA) | store / minimal (pairs/s) | create_or_join, inserting (+complete) | create_or_join, joining | create_or_join, in a decline's cooldown | get | list (10 open) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let (mut open, mut retained) = (0, 0);
    for (want_open, want_retained) in [
        (10, 0),
        (1_000, 0),
        (10_000, 0),
        (10_000, 10_000),
        (10_000, 100_000),
    ] {
        fill_open(&m, &big, open, want_open).await;
        fill_retained(&m, &s.users, retained, want_retained).await;
        (open, retained) = (want_open, want_retained);
        let store_pair = per_op(s, OPS, async |_| {
            let p = m.create(&big, spec()).await.expect("create");
            m.complete(p).await.expect("complete");
        })
        .await;
        // The minimal pair at the same size, right after the store's pairs.
        let mut conn = s.conn.clone();
        let minimal = per_op(s, OPS, async |i| {
            pair(s, &mut conn, Variant::MinEval, (0, u64::from(i)), None).await;
        })
        .await;
        let insert = per_op(s, OPS, async |i| {
            let sp = spec().resource(format!("cj-{open}-{retained}-{i}"));
            let j = m.create_or_join(&big, sp).await.expect("create_or_join");
            m.complete(j.into_open().expect("created"))
                .await
                .expect("c");
        })
        .await;
        let keep = m
            .create(&big, spec().resource("join.example"))
            .await
            .expect("create");
        let join = per_op(s, OPS, async |_| {
            let j = m
                .create_or_join(&big, spec().resource("join.example"))
                .await;
            assert!(j.expect("join").is_joined());
        })
        .await;
        m.complete(keep).await.expect("complete");
        let sp = spec().resource("declined.example");
        let d = m.create(&big, sp).await.expect("create");
        let id = d.id();
        m.decline(d).await.expect("decline");
        let cooldown = per_op(s, OPS, async |_| {
            let j = m
                .create_or_join(&big, spec().resource("declined.example"))
                .await;
            assert!(matches!(j, Ok(oob::Joined::Declined(_))));
        })
        .await;
        let get = per_op(s, OPS, async |_| {
            std::hint::black_box(m.get(id).await.expect("get"));
        })
        .await;
        let list = per_op(s, OPS, async |_| {
            assert_eq!(m.list(&small).await.expect("list").len(), 10);
        })
        .await;
        let c = |(a, b): (f64, f64)| format!("{a:.0} / {b:.1}");
        println!(
            "| {open} | {retained} | {} | {} | {:.0} % | {} | {} | {} | {} | {} |",
            c(store_pair),
            c(minimal),
            100.0 * minimal.0 / store_pair.0,
            c(insert),
            c(join),
            c(cooldown),
            c(get),
            c(list)
        );
    }
}
