//! The growth case of the SQLite bench (`SQLITE_BENCH=growth`): how one task's create+complete
//! and get cost as the data grows, in the namespace, in the store, and with a total bound set.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::{CallbackBase, Manager, Namespace, PendingId, Spec};

use super::{M, SqliteStore, TempDb, namespaces, payload, store_pair, temp_store};

/// One case: `open` open pendings in the caller's namespace, `others` open ones and
/// `retained` finished ones over 64 other namespaces; `total` the total bound of the manager
/// measured (`None`: unbounded); `base` the case its ratios are taken against.
struct Case {
    open: usize,
    others: usize,
    retained: usize,
    total: Option<usize>,
    base: usize,
}

const fn case(open: usize, others: usize, retained: usize, total: Option<usize>) -> Case {
    Case {
        open,
        others,
        retained,
        total,
        base: 0,
    }
}

/// The cases, in groups whose first case is the base of the group.
fn cases() -> Vec<Case> {
    let bound = Some(1_000_000);
    let groups = [
        vec![
            case(10, 0, 0, None),
            case(100, 0, 0, None),
            case(1_000, 0, 0, None),
            case(10_000, 0, 0, None),
        ],
        vec![
            case(1, 0, 0, None),
            case(1, 0, 1_000, None),
            case(1, 0, 10_000, None),
            case(1, 0, 100_000, None),
        ],
        vec![
            case(1, 10, 0, bound),
            case(1, 100_000, 0, bound),
            case(1, 10, 100_000, bound),
        ],
    ];
    let mut all = Vec::new();
    for group in groups {
        let base = all.len();
        all.extend(group.into_iter().map(|c| Case { base, ..c }));
    }
    all
}

impl Case {
    fn label(&self) -> String {
        let mut s = format!("{} open in the namespace", self.open);
        if self.others > 0 {
            s.push_str(&format!(", {} open elsewhere", self.others));
        }
        s.push_str(&format!(", {} retained", self.retained));
        if let Some(total) = self.total {
            s.push_str(&format!(", total bound {total}"));
        }
        s
    }
}

fn manager(store: &SqliteStore<super::DeviceCode>, total: Option<usize>) -> M {
    Manager::builder()
        .store(store.clone())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .max_open_per_namespace(20_000)
        .max_open_total(total.unwrap_or(usize::MAX))
        .build()
}

/// Fills a store through `m` (a manager without a total bound, so the fill itself does not
/// depend on how a store counts it) for case `c`, 64 tasks at a time.
fn fill(rt: &tokio::runtime::Runtime, m: &M, user: &VerifiedSubject, c: &Case) {
    let nss = Arc::new(namespaces());
    let (open, others, retained) = (c.open, c.others, c.retained);
    rt.block_on(async {
        let handles: Vec<_> = (0..64usize)
            .map(|t| {
                let (m, nss, user) = (m.clone(), nss.clone(), user.clone());
                tokio::spawn(async move {
                    let spec = || {
                        Spec::new(payload())
                            .resource("example.com")
                            .ttl(Duration::from_secs(3_600))
                    };
                    for _ in (0..open).skip(t).step_by(64) {
                        m.create(&user, spec()).await.expect("create");
                    }
                    for _ in (0..others).skip(t).step_by(64) {
                        m.create(&nss[t], spec()).await.expect("create");
                    }
                    for _ in (0..retained).skip(t).step_by(64) {
                        let p = m.create(&nss[t], spec()).await.expect("create");
                        m.complete(p).await.expect("complete");
                    }
                })
            })
            .collect();
        for h in handles {
            h.await.expect("task");
        }
    });
}

fn median(v: &[f64]) -> (f64, f64, f64) {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// Growth: create+complete and get, one task, in a namespace holding 10 … 10,000 open
/// pendings (a per-namespace bound of 20,000, so the bound is checked), in a store holding
/// 0 … 100,000 retained records, and with a total bound of 1,000,000 set in a store of 10
/// or 100,000 open, or 100,000 retained records; interleaved rounds, medians and spread,
/// each against the first case of its group. `OOB_BENCH_ROUNDS` sets the rounds (default 7).
pub(super) fn growth(rt: &tokio::runtime::Runtime) {
    let rounds = std::env::var("OOB_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(7);
    let n = 300u64;
    let caller = VerifiedSubject::new(Namespace::new("caller").expect("namespace"));
    let cases = cases();
    let mut built: Vec<(M, TempDb, Vec<PendingId>)> = Vec::new();
    for c in &cases {
        let (store, db, _raw) = temp_store(oob::store::DEFAULT_RETENTION);
        fill(rt, &manager(&store, None), &caller, c);
        let m = manager(&store, c.total);
        let ids: Vec<PendingId> = rt
            .block_on(m.list(&caller))
            .expect("list")
            .iter()
            .map(oob::Pending::id)
            .collect();
        built.push((m, db, ids));
    }
    let mut pair_us = vec![Vec::new(); cases.len()];
    let mut get_us = vec![Vec::new(); cases.len()];
    for round in 0..rounds {
        for j in 0..cases.len() {
            let i = if round % 2 == 0 {
                j
            } else {
                cases.len() - 1 - j
            };
            let (m, _, ids) = &built[i];
            let start = Instant::now();
            rt.block_on(async {
                for _ in 0..n {
                    store_pair(m, &caller).await;
                }
            });
            pair_us[i].push(start.elapsed().as_secs_f64() * 1e6 / n as f64);
            let start = Instant::now();
            rt.block_on(async {
                for k in 0..n {
                    let id = ids[usize::try_from(k).unwrap_or(0) % ids.len()];
                    black_box(m.get(id).await.expect("get"));
                }
            });
            get_us[i].push(start.elapsed().as_secs_f64() * 1e6 / n as f64);
        }
    }
    println!(
        "\ngrowth (1 task, {rounds} interleaved rounds of {n}; us per op, median (min-max), ratio to the first row of its group):"
    );
    for (what, all) in [("create+complete", &pair_us), ("get", &get_us)] {
        for (i, c) in cases.iter().enumerate() {
            let (m, lo, hi) = median(&all[i]);
            let ratios: Vec<f64> = all[i]
                .iter()
                .zip(&all[c.base])
                .map(|(a, b)| a / b)
                .collect();
            let (r, rlo, rhi) = median(&ratios);
            println!(
                "  {what:<16} {:<84} {m:>8.1} us ({lo:.1}-{hi:.1})  x{r:.2} ({rlo:.2}-{rhi:.2})",
                c.label()
            );
        }
    }
}
