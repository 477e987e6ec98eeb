//! Timings of the memory store on the Go reference's workload (see `common`), against a
//! naive `Mutex<HashMap>` store (`common::naive`) driven through the same manager, in
//! interleaved rounds (`common::rounds`): ratios per round, medians with their spread.
//!
//! Run with `cargo bench -p oob --bench memory_store` (`ROUNDS=n` and `BATCH=n` change the
//! number of rounds, 11, and operations per round, 20,000; `MEMORY_BENCH=get,list` runs only
//! the sections named: create, complete_with, dedup, get, list, growth). Measures:
//! - create immediately followed by complete of the same id, retention 0 and 300 s;
//! - the same with `complete_with` (the persist path) instead of `complete`;
//! - create_or_join+complete with a decline cooldown, in a namespace that also holds 10 …
//!   10,000 open pendings and as many recent declines under other keys;
//! - get on a store of 100,000 open pendings, the ids in creation order and shuffled;
//! - list of one namespace (10 pendings) on stores of 10,000 and 1,000,000 pendings;
//! - growth: create+complete and get in a namespace of 10 … 10,000 open pendings, and in a
//!   store holding 0 … 100,000 retained (finished) records, and list of a namespace of 10
//!   open pendings that also holds 0 … 10,000 retained records, each against the smallest.

mod common;

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use common::naive::NaiveStore;
use common::rounds::{Batch, Run, interleave};
use common::vec::VecStore;
use common::{Owned, Shared, Workload, fill, manager_over, ready, spec, users};
use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::store::{DEFAULT_RETENTION, MemoryStore};
use oob::{CallbackBase, Manager, Store};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

type Mgr<P, S> = Manager<P, S, FromVerifiedSubject>;

/// A batch of `n` create+complete pairs, taking the callers in turn.
fn pairs<'a, P: Workload, S: Store<P>>(
    m: &'a Mgr<P, S>,
    users: &'a [VerifiedSubject],
) -> impl FnMut(u64) + 'a {
    let mut i = 0usize;
    move |n| {
        for _ in 0..n {
            let u = &users[i % users.len()];
            i += 1;
            let p = ready(m.create(u, spec::<P>())).expect("create");
            black_box(ready(m.complete(p)).expect("complete"));
        }
    }
}

/// A batch of `n` gets of the ids in turn.
fn gets<'a, P: Workload, S: Store<P>>(
    m: &'a Mgr<P, S>,
    ids: &'a [oob::PendingId],
) -> impl FnMut(u64) + 'a {
    let mut i = 0usize;
    move |n| {
        for _ in 0..n {
            let id = ids[i % ids.len()];
            i += 7;
            black_box(ready(m.get(id)).expect("get"));
        }
    }
}

/// Like [`pairs`], completing with `complete_with` and a persist step that does nothing.
fn pairs_with<'a, P: Workload, S: Store<P>>(
    m: &'a Mgr<P, S>,
    users: &'a [VerifiedSubject],
) -> impl FnMut(u64) + 'a {
    let mut i = 0usize;
    move |n| {
        for _ in 0..n {
            let u = &users[i % users.len()];
            i += 1;
            let p = ready(m.create(u, spec::<P>())).expect("create");
            let done = ready(m.complete_with(p, async |_token| Ok::<(), Infallible>(())));
            black_box(done.expect("complete_with"));
        }
    }
}

/// A batch of `n` create_or_join+complete pairs under the key `new`, by one caller.
fn joins<'a, S: Store<Owned>>(
    m: &'a Mgr<Owned, S>,
    caller: &'a VerifiedSubject,
) -> impl FnMut(u64) + 'a {
    move |n| {
        for _ in 0..n {
            let spec = spec::<Owned>().alias("new");
            let p = ready(m.create_or_join(caller, spec)).expect("create_or_join");
            let p = p.into_open().expect("not declined");
            black_box(ready(m.complete(p)).expect("complete"));
        }
    }
}

fn create_complete<P: Workload>(rounds: usize, n: u64) {
    let users = users(1_000);
    for (label, retention) in [
        ("retention 0", Duration::ZERO),
        ("retention 300 s", DEFAULT_RETENTION),
    ] {
        let naive = manager_over::<P, _>(NaiveStore::new(!retention.is_zero()), usize::MAX);
        let store = manager_over::<P, _>(MemoryStore::new().with_retention(retention), usize::MAX);
        let r = interleave(
            rounds,
            n,
            vec![
                (
                    "naive Mutex<HashMap>",
                    Box::new(pairs(&naive, &users)) as Run<'_>,
                ),
                ("memory store", Box::new(pairs(&store, &users))),
            ],
        );
        r.print(
            &format!("create+complete, 1 task, {label} ({})", P::NAME),
            0,
        );
    }
}

/// create+complete through `complete` and through `complete_with`, retention 0.
fn complete_with<P: Workload>(rounds: usize, n: u64) {
    let users = users(1_000);
    let naive = manager_over::<P, _>(NaiveStore::new(false), usize::MAX);
    let store = manager_over::<P, _>(
        MemoryStore::new().with_retention(Duration::ZERO),
        usize::MAX,
    );
    let r = interleave(
        rounds,
        n,
        vec![
            (
                "naive Mutex<HashMap>, complete",
                Box::new(pairs(&naive, &users)) as Run<'_>,
            ),
            ("memory store, complete", Box::new(pairs(&store, &users))),
            (
                "memory store, complete_with",
                Box::new(pairs_with(&store, &users)),
            ),
        ],
    );
    r.print(
        &format!("create+complete_with, 1 task, retention 0 ({})", P::NAME),
        0,
    );
    r.print_ratio(2, 1);
}

/// create_or_join+complete (key `new`, decline cooldown 600 s, retention 300 s) in one
/// namespace that also holds `size` open pendings and `size` recent declines under other
/// keys; the naive map (which ignores dedup: a plain create) as the yardstick.
fn dedup(rounds: usize, n: u64) {
    let caller = users(1);
    let cooled = |size: usize| {
        let m = Manager::builder()
            .store(MemoryStore::new())
            .provider(FromVerifiedSubject)
            .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
            .max_open_per_namespace(usize::MAX)
            .decline_cooldown(Duration::from_secs(600))
            .build();
        for i in 0..size {
            let open = spec::<Owned>().alias(format!("open-{i}"));
            ready(m.create(&caller[0], open)).expect("create");
            let declined = spec::<Owned>().alias(format!("declined-{i}"));
            let p = ready(m.create(&caller[0], declined)).expect("create");
            ready(m.decline(p)).expect("decline");
        }
        m
    };
    let naive = manager_over::<Owned, _>(NaiveStore::new(true), usize::MAX);
    let sizes = [10usize, 1_000, 10_000];
    let stores: Vec<_> = sizes.iter().map(|&s| cooled(s)).collect();
    let labels: Vec<String> = sizes
        .iter()
        .map(|s| format!("memory store, {s} open + {s} declined"))
        .collect();
    let mut b: Vec<Batch<'_>> = vec![(
        "naive Mutex<HashMap> (plain create)",
        Box::new(joins(&naive, &caller[0])),
    )];
    for (label, m) in labels.iter().zip(&stores) {
        b.push((label.as_str(), Box::new(joins(m, &caller[0]))));
    }
    let r = interleave(rounds, n, b);
    r.print(
        "create_or_join+complete, cooldown 600 s, retention 300 s, in a namespace of",
        0,
    );
    r.print_ratio(3, 1);
}

fn get<P: Workload>(rounds: usize, n: u64) {
    let users = users(1_000);
    let naive = manager_over::<P, _>(NaiveStore::new(true), usize::MAX);
    let store = manager_over::<P, _>(MemoryStore::new(), usize::MAX);
    let fill_in = |m: &dyn Fn(&VerifiedSubject) -> oob::PendingId| -> Vec<oob::PendingId> {
        (0..100_000).map(|i| m(&users[i % users.len()])).collect()
    };
    let naive_ids = fill_in(&|u| ready(naive.create(u, spec::<P>())).expect("create").id());
    let store_ids = fill_in(&|u| ready(store.create(u, spec::<P>())).expect("create").id());
    let r = interleave(
        rounds,
        n,
        vec![
            (
                "naive Mutex<HashMap>",
                Box::new(gets(&naive, &naive_ids)) as Run<'_>,
            ),
            ("memory store", Box::new(gets(&store, &store_ids))),
        ],
    );
    r.print(&format!("get, 100,000 open ({})", P::NAME), 0);
    // The same ids in a shuffled order (one permutation, the same for both): the reads above
    // go through the ids in creation order, which favours a store laid out in that order.
    let (mut naive_ids, mut store_ids) = (naive_ids, store_ids);
    shuffle(&mut naive_ids);
    shuffle(&mut store_ids);
    let r = interleave(
        rounds,
        n,
        vec![
            (
                "naive Mutex<HashMap>",
                Box::new(gets(&naive, &naive_ids)) as Run<'_>,
            ),
            ("memory store", Box::new(gets(&store, &store_ids))),
        ],
    );
    r.print(
        &format!("get, 100,000 open, shuffled order ({})", P::NAME),
        0,
    );
}

/// A fixed pseudo-random permutation (xorshift; the same for every slice of one length).
fn shuffle<X>(xs: &mut [X]) {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    for i in (1..xs.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = usize::try_from(state % (i as u64 + 1)).unwrap_or(0);
        xs.swap(i, j);
    }
}

/// A batch of `n` lists, of the callers' namespaces in a scattered order.
fn lists<'a, S: Store<Owned>>(
    m: &'a Mgr<Owned, S>,
    users: &'a [VerifiedSubject],
) -> impl FnMut(u64) + 'a {
    let mut i = 0usize;
    move |n| {
        for _ in 0..n {
            let u = &users[i % users.len()];
            i += 7_919;
            black_box(ready(m.list(u)).expect("list"));
        }
    }
}

/// List one namespace of 10 on stores of 10,000 and 1,000,000 pendings, and the same on the
/// yardstick (`common::vec`: each namespace's records in a plain `Vec`, cloned), filled
/// alike: the yardstick's growth is what memory alone costs at that size.
fn list(rounds: usize, n: u64) {
    let small_users = users(1_000);
    let big_users = users(100_000);
    let small = common::manager::<Owned>(Duration::ZERO);
    let big = common::manager::<Owned>(Duration::ZERO);
    let _ = fill(&small, &small_users, 10_000);
    let _ = fill(&big, &big_users, 1_000_000);
    let small_vec = manager_over::<Owned, _>(VecStore::new(), usize::MAX);
    let big_vec = manager_over::<Owned, _>(VecStore::new(), usize::MAX);
    let _ = fill(&small_vec, &small_users, 10_000);
    let _ = fill(&big_vec, &big_users, 1_000_000);
    let r = interleave(
        rounds,
        n,
        vec![
            (
                "store of 10,000 (1,000 namespaces)",
                Box::new(lists(&small, &small_users)) as Run<'_>,
            ),
            (
                "store of 1,000,000 (100,000 namespaces)",
                Box::new(lists(&big, &big_users)),
            ),
            (
                "yardstick (plain Vec) of 10,000",
                Box::new(lists(&small_vec, &small_users)),
            ),
            (
                "yardstick (plain Vec) of 1,000,000",
                Box::new(lists(&big_vec, &big_users)),
            ),
        ],
    );
    r.print("list one namespace of 10 (String fields)", 0);
    r.print_ratio(3, 2);
    r.print_ratio(0, 2);
    r.print_ratio(1, 3);
}

#[path = "memory_store/growth.rs"]
mod growth;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rounds = usize::try_from(env("ROUNDS", 11)).unwrap_or(11);
    let n = env("BATCH", 20_000);
    // `MEMORY_BENCH=get,list` runs only those sections (all by default).
    let only = std::env::var("MEMORY_BENCH").ok();
    let run = |name: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|s| s == name))
    };
    if run("create") {
        create_complete::<Owned>(rounds, n);
        create_complete::<Shared>(rounds, n);
    }
    if run("complete_with") {
        complete_with::<Owned>(rounds, n);
    }
    if run("dedup") {
        dedup(rounds, n);
    }
    if run("get") {
        get::<Owned>(rounds, n);
    }
    if run("list") {
        list(rounds, n);
    }
    if run("growth") {
        growth::growth(rounds, n);
    }
}
