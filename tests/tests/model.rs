//! Model-based test: random sequences of operations (create, create-or-join, complete,
//! cancel, decline (each by id alone or expecting a namespace), get, list, clear, purge,
//! clock moves of a few milliseconds to seconds) run against a plain in-test model of the
//! lifecycle rules and against each store through a `Manager`; every observable result
//! must be the model's. The model is written from the rules in words (see
//! `oob::store::lifecycle`), not from any store's code.
//!
//! Memory and SQLite always run; Redis and Postgres run when their servers are installed
//! (with `CI` set, a missing server is a failure).

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use oob::state::CancelReason;
use oob::store::{MemoryStore, PostgresStore, RedisStore, SqliteStore, Store};
use oob::{AnyPending, Error, Joined, Namespace, PendingId};
use oob_tests::conformance::{ConfManager, ManualClock, Opts, manager_on};
use oob_tests::postgres_server::{PostgresServer, fresh_schema};
use oob_tests::redis_server::RedisServer;
use oob_tests::{DeviceCode, spec, user};
use proptest::prelude::*;

#[path = "model/rules.rs"]
mod rules;

use rules::{COOLDOWN_MS, Model, NAMESPACES, Obs, Op, PER_NAMESPACE, TOTAL, op};

/// A store under test, driven through a manager; pendings named by creation index.
struct Real<S: Store<DeviceCode>> {
    m: ConfManager<S>,
    clock: ManualClock,
    ids: Vec<PendingId>,
}

fn namespace(ns: usize) -> Namespace {
    Namespace::new(NAMESPACES[ns]).expect("namespace")
}

fn how(e: &Error) -> Obs {
    match e {
        Error::NotFound(_) => Obs::NotFound,
        Error::Expired(_) => Obs::Expired,
        Error::Finished { how, .. } => Obs::Finished(match how.to_string().as_str() {
            "completed" => "completed",
            "cancelled" => "cancelled",
            "declined" => "declined",
            _ => "expired",
        }),
        Error::Capacity(scope) => Obs::Capacity(*scope),
        Error::NamespaceMismatch(_) => Obs::Mismatch,
        other => panic!("unexpected error {other:?}"),
    }
}

impl<S: Store<DeviceCode> + Clone> Real<S> {
    fn index(&self, id: PendingId) -> usize {
        self.ids.iter().position(|i| *i == id).unwrap_or(usize::MAX)
    }

    fn id(&self, i: usize) -> PendingId {
        self.ids.get(i).copied().unwrap_or_else(PendingId::random)
    }

    async fn run(&mut self, op: &Op) -> Obs {
        match *op {
            Op::Create {
                ns,
                alias,
                ttl_ms,
                join,
            } => {
                let mut s = spec().ttl(Duration::from_millis(ttl_ms));
                if let Some(a) = alias {
                    s = s.alias(format!("k{a}"));
                }
                let u = user(NAMESPACES[ns]);
                let out = if join {
                    self.m.create_or_join(&u, s).await
                } else {
                    self.m.create(&u, s).await.map(Joined::Created)
                };
                match out {
                    Ok(Joined::Created(p)) => {
                        self.ids.push(p.id());
                        Obs::Created
                    }
                    Ok(Joined::Joined(p)) => Obs::Joined([self.index(p.id())].into()),
                    Ok(Joined::Declined(p)) => Obs::Declined([self.index(p.id())].into()),
                    Ok(_) => panic!("unknown create outcome"),
                    Err(e) => how(&e),
                }
            }
            Op::Complete(i, expect) => {
                let done = match expect {
                    Some(ns) => self.m.complete_in(self.id(i), &namespace(ns)).await,
                    None => self.m.complete_id(self.id(i)).await,
                };
                match done {
                    Ok(_) => Obs::Ok,
                    Err(e) => how(&e),
                }
            }
            Op::Cancel(i, decline, expect) => {
                let reason = if decline {
                    CancelReason::Declined
                } else {
                    CancelReason::Cancelled
                };
                let expect = expect.map(namespace);
                match self.m.cancel_id(self.id(i), reason, expect.as_ref()).await {
                    Ok(_) => Obs::Ok,
                    Err(e) => how(&e),
                }
            }
            Op::Get(i) => match self.m.get(self.id(i)).await {
                Ok(AnyPending::Open(_)) => Obs::Open,
                Ok(AnyPending::Completed(_)) => Obs::State("completed"),
                Ok(AnyPending::Cancelled(p)) if p.is_declined() => Obs::State("declined"),
                Ok(AnyPending::Cancelled(_)) => Obs::State("cancelled"),
                Ok(AnyPending::Expired(_)) => Obs::State("expired"),
                Ok(_) => panic!("unknown state"),
                Err(e) => how(&e),
            },
            Op::List(ns) => {
                let list = self.m.list(&user(NAMESPACES[ns])).await.expect("list");
                Obs::List(list.iter().map(|p| self.index(p.id())).collect())
            }
            Op::Clear(ns) => {
                self.m.clear(&user(NAMESPACES[ns])).await.expect("clear");
                Obs::Done
            }
            Op::Purge => {
                self.m.purge().await.expect("purge");
                Obs::Done
            }
            Op::Advance(ms) => {
                self.clock.advance(Duration::from_millis(ms));
                Obs::Done
            }
        }
    }
}

/// Runs `ops` on the model and on the store; fails at the first difference.
async fn check<S: Store<DeviceCode> + Clone>(
    store: S,
    retention: u64,
    ops: &[Op],
) -> Result<(), String> {
    let (m, clock) = manager_on(
        store,
        Opts {
            per_namespace: PER_NAMESPACE,
            total: TOTAL,
            cooldown: Duration::from_millis(COOLDOWN_MS),
        },
    );
    let mut real = Real {
        m,
        clock,
        ids: Vec::new(),
    };
    let mut model = Model {
        recs: Vec::new(),
        retention,
        now: 0,
    };
    for (step, op) in ops.iter().enumerate() {
        let want = match *op {
            Op::Create {
                ns,
                alias,
                ttl_ms,
                join,
            } => model.create(ns, alias, ttl_ms, join),
            Op::Complete(i, ns) => model.finish(i, "completed", ns),
            Op::Cancel(i, d, ns) => model.finish(i, if d { "declined" } else { "cancelled" }, ns),
            Op::Get(i) => model.get(i),
            Op::List(ns) => model.list(ns),
            Op::Clear(ns) => {
                for r in model.recs.iter_mut().filter(|r| r.ns == ns) {
                    r.present = false;
                }
                Obs::Done
            }
            Op::Purge => Obs::Done,
            Op::Advance(ms) => {
                model.now += ms;
                Obs::Done
            }
        };
        let got = real.run(op).await;
        let agrees = match (&want, &got) {
            (Obs::Joined(may), Obs::Joined(one)) | (Obs::Declined(may), Obs::Declined(one)) => {
                one.is_subset(may) && one.len() == 1
            }
            _ => want == got,
        };
        if !agrees {
            return Err(format!("step {step} {op:?}: model {want:?}, store {got:?}"));
        }
    }
    Ok(())
}

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn retention(zero: bool) -> (Duration, u64) {
    if zero {
        (Duration::ZERO, 0)
    } else {
        (Duration::from_millis(1_000), 1_000)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]

    #[test]
    fn memory_store_agrees_with_the_model(zero in any::<bool>(), ops in prop::collection::vec(op(), 1..60)) {
        let (d, ms) = retention(zero);
        let store = MemoryStore::<DeviceCode>::new().with_retention(d);
        block_on(check(store, ms, &ops)).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn sqlite_store_agrees_with_the_model(zero in any::<bool>(), ops in prop::collection::vec(op(), 1..60)) {
        let (d, ms) = retention(zero);
        let store = SqliteStore::<DeviceCode>::open_in_memory().expect("open").with_retention(d);
        block_on(check(store, ms, &ops)).map_err(TestCaseError::fail)?;
    }
}

static REDIS: OnceLock<Option<RedisServer>> = OnceLock::new();
static POSTGRES: OnceLock<Option<PostgresServer>> = OnceLock::new();
static PREFIX: AtomicUsize = AtomicUsize::new(0);

async fn redis_store(server: &RedisServer, retention: Duration) -> RedisStore<DeviceCode> {
    let client = redis::Client::open(server.url()).expect("client");
    RedisStore::builder(client)
        .prefix(format!("m{}:", PREFIX.fetch_add(1, Ordering::SeqCst)))
        .retention(retention)
        .connect()
        .await
        .expect("connect")
}

async fn postgres_store(server: &PostgresServer, retention: Duration) -> PostgresStore<DeviceCode> {
    let pool = server.pool(4).await;
    PostgresServer::store(&pool, &fresh_schema(), retention).await
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Skipped without `redis-server` unless `CI` is set (then starting it fails).
    #[test]
    fn redis_store_agrees_with_the_model(zero in any::<bool>(), ops in prop::collection::vec(op(), 1..60)) {
        if let Some(server) = REDIS.get_or_init(RedisServer::start) {
            let (d, ms) = retention(zero);
            block_on(async { check(redis_store(server, d).await, ms, &ops).await })
                .map_err(TestCaseError::fail)?;
        }
    }

    /// Skipped without Postgres unless `CI` is set (then starting it fails).
    #[test]
    fn postgres_store_agrees_with_the_model(zero in any::<bool>(), ops in prop::collection::vec(op(), 1..60)) {
        if let Some(server) = POSTGRES.get_or_init(PostgresServer::start) {
            let (d, ms) = retention(zero);
            block_on(async { check(postgres_store(server, d).await, ms, &ops).await })
                .map_err(TestCaseError::fail)?;
        }
    }
}
