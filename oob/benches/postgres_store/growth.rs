//! The growth case of the Postgres bench (`OOB_BENCH_GROWTH=1`): one task's operations at
//! 10 and 10,000 open pendings in the namespace, 0 and 100,000 retained records.

use std::time::Instant;

use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::store::PostgresStore;
use oob::time::SystemClock;
use oob::{CallbackBase, Manager, Namespace};
use sqlx::PgPool;

use super::{DeviceCode, M, median, spec};

const GROWTH_DATA: &str = r#"'{"verify_url":"https://ex.com/device","user_code":"ABCD-1234","message":"Enter the code"}'"#;

/// Fills the growth schema: `open` open pendings in namespace `big`, 10 in `small`,
/// `retained` completed records over 1,000 other namespaces.
async fn fill(pool: &PgPool, open: usize, retained: usize) {
    let now = "(extract(epoch from clock_timestamp()) * 1000)::bigint";
    let row = |ns: &str| {
        format!(
            "gen_random_uuid(), 'device_code', {ns}, NULL, 'example.com', NULL, \
             {GROWTH_DATA}, {now}, {now} + 3600000"
        )
    };
    let sql = format!(
        "TRUNCATE g.pendings, g.finished, g.counts; \
         INSERT INTO g.pendings SELECT {}, 'open' FROM generate_series(1, {open}); \
         INSERT INTO g.pendings SELECT {}, 'open' FROM generate_series(1, 10); \
         INSERT INTO g.finished SELECT {}, 'completed', NULL, {now} \
         FROM generate_series(1, {retained}) i; \
         INSERT INTO g.counts SELECT kind, namespace, count(*) FROM g.pendings GROUP BY 1, 2; \
         ANALYZE g.pendings, g.finished, g.counts",
        row("'big'"),
        row("'small'"),
        row("'other-' || (i % 1000)"),
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(pool)
        .await
        .expect("fill");
}

async fn per_op<F: Future<Output = ()>>(n: usize, mut op: impl FnMut() -> F) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        op().await;
    }
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

pub(crate) async fn growth(pool: &PgPool) {
    let store = PostgresStore::<DeviceCode>::builder(pool.clone())
        .schema("g")
        .build()
        .await
        .expect("store");
    store.migrate().await.expect("migrate");
    let m: M = Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .clock(SystemClock)
        .max_open_per_namespace(20_000)
        .build();
    let who = |ns: &str| Some(VerifiedSubject::new(Namespace::new(ns).expect("namespace")));
    let (big, small) = (who("big"), who("small"));
    let sizes = [(10, 0), (10_000, 100_000)];
    let mut got: [Vec<[f64; 4]>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..3 {
        for (i, (open, retained)) in sizes.into_iter().enumerate() {
            fill(pool, open, retained).await;
            let pair = per_op(300, || async {
                let p = m.create(&big, spec()).await.expect("create");
                m.complete(p).await.expect("complete");
            })
            .await;
            let id = m.create(&big, spec()).await.expect("create").id();
            let get = per_op(1_000, || async {
                m.get(id).await.expect("get");
            })
            .await;
            let list = per_op(300, || async {
                assert_eq!(m.list(&small).await.expect("list").len(), 10);
            })
            .await;
            let n = std::sync::atomic::AtomicUsize::new(0);
            // A create_or_join whose key no open pending has (it inserts), then a complete.
            let join = per_op(300, || async {
                let alias = format!("a{}", n.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
                let j = m
                    .create_or_join(&big, spec().alias(alias))
                    .await
                    .expect("join");
                m.complete(j.into_open().expect("created"))
                    .await
                    .expect("complete");
            })
            .await;
            got[i].push([pair, get, list, join]);
        }
    }
    println!(
        "namespace open  retained  pair µs  get µs  list(10) µs  join-miss pair µs  \
         (medians of 3 rounds)"
    );
    for (i, (open, retained)) in sizes.into_iter().enumerate() {
        let col = |k: usize| median(got[i].iter().map(|r| r[k]).collect());
        println!(
            "{open:>14}  {retained:>8}  {:>7.0}  {:>6.0}  {:>11.0}  {:>17.0}",
            col(0),
            col(1),
            col(2),
            col(3)
        );
    }
}
