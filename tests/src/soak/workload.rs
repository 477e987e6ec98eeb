//! The load: simulated users on several manager replicas over one shared store (and vault),
//! each running rounds of one interaction, a vault refresh and, now and then, a list.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::store::Store;
use oob::vault::Vault;
use oob::{CallbackBase, Error, Manager, Namespace, PendingId};

use super::interaction;
use super::invariants::{Counts, Invariant};
use super::ops::Ops;
use super::rng::Rng;
use super::vault_load;
use crate::DeviceCode;

/// A manager replica of the soak.
pub type M<S> = Manager<DeviceCode, S, FromVerifiedSubject>;

/// How long finished records stay readable in every soak store.
pub const RETENTION: Duration = Duration::from_secs(2);

/// What the users did that the end-of-run checks need.
#[derive(Debug, Default)]
pub struct Ledger {
    /// The namespace each pending was created in.
    pub owners: HashMap<PendingId, Namespace>,
    /// Completions acknowledged to their completer (their persist step wrote the vault).
    pub completed: HashSet<PendingId>,
    /// Counter values acknowledged to a compare-and-swap refresh, per user.
    pub cas: HashMap<usize, Vec<u64>>,
    /// Interactions driven to an end.
    pub interactions: u64,
}

/// Everything the users share: the replicas, their vaults, the figures.
#[derive(Debug)]
pub struct Load<S, V> {
    /// One manager per replica.
    pub ms: Vec<M<S>>,
    /// One vault handle per replica (all on the same backend).
    pub vaults: Vec<V>,
    /// Latencies per operation.
    pub ops: Ops,
    /// Invariant breaches.
    pub counts: Counts,
    /// Operations other than waits give up after this long (the slow store's timeouts).
    pub op_timeout: Option<Duration>,
    ledger: Mutex<Ledger>,
}

impl<S, V> Load<S, V>
where
    S: Store<DeviceCode> + Clone,
    V: Vault<String> + Clone,
{
    /// Managers over `stores` (one per replica), with `vaults`.
    pub fn new(stores: &[S], vaults: Vec<V>, op_timeout: Option<Duration>) -> Self {
        let ms = stores
            .iter()
            .map(|s| {
                Manager::builder()
                    .store(s.clone())
                    .provider(FromVerifiedSubject)
                    .callback_base(CallbackBase::parse("https://soak.example").expect("base"))
                    .max_open_per_namespace(10_000)
                    .max_open_total(10_000_000)
                    .decline_cooldown(Duration::ZERO)
                    .build()
            })
            .collect();
        Self {
            ms,
            vaults,
            ops: Ops::default(),
            counts: Counts::default(),
            op_timeout,
            ledger: Mutex::new(Ledger::default()),
        }
    }

    /// A random replica.
    pub fn pick(&self, rng: &mut Rng) -> &M<S> {
        &self.ms[rng.below(self.ms.len() as u64) as usize]
    }

    /// A random replica's vault.
    pub fn vault(&self, rng: &mut Rng) -> &V {
        &self.vaults[rng.below(self.vaults.len() as u64) as usize]
    }

    /// The ledger, locked.
    pub fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` under the operation timeout, recording it as `op` (failed unless it succeeded
    /// or got a [`decided`] answer); `Err(None)` when it timed out.
    pub async fn timed<R>(
        &self,
        op: &'static str,
        f: impl Future<Output = Result<R, Error>>,
    ) -> Result<R, Option<Error>> {
        let t = Instant::now();
        let r = match self.op_timeout {
            Some(limit) => match tokio::time::timeout(limit, f).await {
                Ok(r) => r.map_err(Some),
                Err(_) => Err(None),
            },
            None => f.await.map_err(Some),
        };
        let ok = match &r {
            Ok(_) => true,
            Err(Some(e)) => decided(e),
            Err(None) => false,
        };
        self.ops.record(op, t.elapsed(), ok);
        r
    }
}

/// Whether an error is the store's decided answer (the pending had finished, expired or gone),
/// as opposed to a failure (a fault, a timeout).
#[must_use]
pub fn decided(e: &Error) -> bool {
    matches!(
        e,
        Error::Finished { .. } | Error::Expired(_) | Error::NotFound(_)
    )
}

/// The namespace of simulated user `u`.
#[must_use]
pub fn namespace(u: usize) -> Namespace {
    Namespace::new(format!("user-{u}@soak.example")).expect("namespace")
}

/// One user's loop until `until`; returns whether its canary was written.
pub async fn user_loop<S, V>(load: Arc<Load<S, V>>, user: usize, until: Instant) -> bool
where
    S: Store<DeviceCode> + Clone,
    V: Vault<String> + Clone,
{
    let mut rng = Rng::new(0x5EED ^ ((user as u64) << 17));
    let ns = namespace(user);
    let caller = VerifiedSubject::new(ns.clone());
    let seeded = vault_load::seed(&load, &caller, until).await;
    let mut round = 0u64;
    while Instant::now() < until {
        round += 1;
        vault_load::step(&load, &caller, user, &mut rng).await;
        if round.is_multiple_of(8) {
            list_own(&load, &caller, &mut rng).await;
        }
        interaction::run(&load, &caller, round, &mut rng).await;
    }
    seeded
}

/// Lists the user's open pendings: each must be one of theirs.
async fn list_own<S, V>(load: &Load<S, V>, caller: &VerifiedSubject, rng: &mut Rng)
where
    S: Store<DeviceCode> + Clone,
    V: Vault<String> + Clone,
{
    let m = load.pick(rng);
    let Ok(open) = load.timed("list", m.list(caller)).await else {
        return;
    };
    let ns = caller.namespace();
    let ledger = load.ledger();
    for p in open {
        let owner = ledger.owners.get(&p.id());
        if p.namespace() != ns || owner.is_some_and(|o| o != ns) {
            load.counts.breach(Invariant::CrossNamespace, || {
                format!("{ns} listed {} of {owner:?}", p.id())
            });
        }
    }
}
