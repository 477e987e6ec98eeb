//! One SQLite file shared by two stores, each with its own connection and connection thread,
//! as two processes sharing the file have: `create_or_join` racing on one key has exactly
//! one winner, and creates racing at a bound never exceed it. Run with the default busy
//! timeout (every call succeeds) and with none (a call may fail while the other store holds
//! the write lock, and is then retried: a failed call must have written nothing). And with
//! zero retention, a record gone for one store is gone for the other.

use std::path::Path;
use std::time::Duration;

use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::store::sqlite::SqliteOptions;
use oob::store::{Scope, SqliteStore};
use oob::{CallbackBase, Error, Joined, Manager, PendingId};
use oob_tests::sqlite_file::TempDb;
use oob_tests::{DeviceCode, spec, user};

type M = Manager<DeviceCode, SqliteStore<DeviceCode>, FromVerifiedSubject>;

/// Keys raced (without the fix, a double winner showed in 2 of 3 runs of 40 keys).
const ROUNDS: usize = 200;

/// Two managers, each on its own store (own connection and thread) opened on `path`.
fn managers(path: &Path, busy: Duration, per_namespace: usize, total: usize) -> [M; 2] {
    let open = || {
        let store =
            SqliteStore::<DeviceCode>::open_with(path, SqliteOptions::default().busy_timeout(busy))
                .expect("open");
        Manager::builder()
            .store(store)
            .provider(FromVerifiedSubject)
            .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
            .max_open_per_namespace(per_namespace)
            .max_open_total(total)
            .build()
    };
    [open(), open()]
}

/// Runs `op` until it does not fail with a store error (the lock held by the other store
/// past the busy timeout); returns its result and how many store errors it met.
async fn retried<R, F, Fut>(mut op: F) -> (Result<R, Error>, usize)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<R, Error>>,
{
    let mut errors = 0;
    loop {
        match op().await {
            Err(Error::Store(_)) if errors < 10_000 => {
                errors += 1;
                tokio::task::yield_now().await;
            }
            other => return (other, errors),
        }
    }
}

/// `rounds` keys, each raced by `tasks` callers on each store; every key must end with one
/// created pending that every other caller joined. Returns the store errors retried.
async fn one_winner_per_key(ms: &[M; 2], rounds: usize, tasks: usize) -> usize {
    let caller = user("shared");
    let mut errors = 0;
    for round in 0..rounds {
        let mut handles = Vec::new();
        for t in 0..tasks * 2 {
            let m = ms[t % 2].clone();
            let caller = caller.clone();
            handles.push(tokio::spawn(async move {
                retried(|| m.create_or_join(&caller, spec().alias(format!("key-{round}")))).await
            }));
        }
        let (mut created, mut joined) = (Vec::<PendingId>::new(), Vec::<PendingId>::new());
        for h in handles {
            let (out, e) = h.await.expect("task");
            errors += e;
            match out.expect("create_or_join") {
                Joined::Created(p) => created.push(p.id()),
                Joined::Joined(p) => joined.push(p.id()),
                Joined::Declined(_) => panic!("no decline was made"),
                _ => panic!("unexpected outcome"),
            }
        }
        assert_eq!(created.len(), 1, "round {round}: one caller creates");
        assert!(
            joined.iter().all(|id| *id == created[0]),
            "round {round}: every other caller joins the one created"
        );
        let open = ms[0].list(&caller).await.expect("list");
        assert_eq!(
            open.len(),
            round + 1,
            "round {round}: one open pending per key"
        );
    }
    errors
}

/// `tasks` callers per store each try `each` creates in the namespaces `users` (round
/// robin); exactly `expect` succeed and the others fail with `Capacity(scope)`.
async fn never_over(
    ms: &[M; 2],
    users: &[VerifiedSubject],
    tasks: usize,
    each: usize,
    expect: usize,
    scope: Scope,
) -> usize {
    let mut handles = Vec::new();
    for t in 0..tasks * 2 {
        let m = ms[t % 2].clone();
        let users = users.to_vec();
        handles.push(tokio::spawn(async move {
            let (mut ok, mut full, mut errors) = (0, 0, 0);
            for i in 0..each {
                let who = &users[(t + i) % users.len()];
                let (out, e) = retried(|| m.create(who, spec())).await;
                errors += e;
                match out {
                    Ok(_) => ok += 1,
                    Err(Error::Capacity(s)) => {
                        assert_eq!(s, scope, "the bound reached");
                        full += 1;
                    }
                    Err(e) => panic!("create failed: {e}"),
                }
            }
            (ok, full, errors)
        }));
    }
    let (mut ok, mut full, mut errors) = (0, 0, 0);
    for h in handles {
        let (o, f, e) = h.await.expect("task");
        (ok, full, errors) = (ok + o, full + f, errors + e);
    }
    assert_eq!(ok, expect, "exactly the bound's worth of creates succeed");
    assert_eq!(ok + full, tasks * 2 * each);
    let mut listed = 0;
    for who in users {
        listed += ms[1].list(who).await.expect("list").len();
    }
    assert_eq!(listed, expect, "the stored open pendings");
    errors
}

async fn races(busy: Duration) -> usize {
    let file = TempDb::new("shared");
    let path = file.path().to_path_buf();
    let mut errors = 0;
    let ms = managers(&path, busy, 1_000, usize::MAX);
    errors += one_winner_per_key(&ms, ROUNDS, 8).await;

    // The namespace bound: 10 in namespace `a` (empty so far).
    let ms = managers(&path, busy, 10, usize::MAX);
    errors += never_over(&ms, &[user("a")], 8, 4, 10, Scope::Namespace).await;

    // The total bound: the `ROUNDS` pendings of the key rounds are open; 15 more fit, over four
    // namespaces whose own bound (100) is never reached.
    let ms = managers(&path, busy, 100, ROUNDS + 10 + 15);
    let users = [user("b"), user("c"), user("d"), user("e")];
    errors += never_over(&ms, &users, 8, 4, 15, Scope::Total).await;
    errors
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_with_the_default_busy_timeout() {
    let errors = races(SqliteOptions::default().busy_timeout).await;
    assert_eq!(errors, 0, "every call waited for the lock and succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_without_a_busy_timeout() {
    let errors = races(Duration::ZERO).await;
    println!("store errors retried: {errors}");
}

/// With zero retention, a record completed with a later wake-up (the manager's
/// `complete_with`) is gone for every store on the file once `wake` returned, as for every
/// other store: not only for the store that woke it (which used to delete it at the start of
/// its own next batch, so another process read it until then, or until a purge).
#[tokio::test]
async fn zero_retention_a_woken_record_is_gone_for_the_other_store_on_the_file() {
    use oob::store::{RecordState, Store, Wake};
    use oob::time::Timestamp;

    let file = TempDb::new("wake-later");
    let open = || {
        SqliteStore::<DeviceCode>::open(file.path())
            .expect("open")
            .with_retention(Duration::ZERO)
    };
    let (a, b) = (open(), open());
    let m = Manager::builder()
        .store(a.clone())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .build();
    let id = m.create(&user("a"), spec()).await.expect("create").id();
    let now = Timestamp::from_system_time(std::time::SystemTime::now());
    let done = a
        .complete(id, None, now, Wake::Later)
        .await
        .expect("complete");
    let kept = b
        .get(id, now)
        .await
        .expect("get")
        .expect("kept until the wake-up");
    assert!(matches!(kept.state, RecordState::Completed { .. }));
    a.wake(&done).await.expect("wake");
    assert!(
        b.get(id, now).await.expect("get").is_none(),
        "gone for the other store once woken"
    );
    assert!(a.get(id, now).await.expect("get").is_none());
}

/// With zero retention, a waiter on the other store of the file (another process: no event
/// reaches it) finds a record that was completed gone at its next read, as it would find
/// one that expired: it answers `Removed` (the store no longer has it as of just before
/// the deadline), and `Expired` for one that expired (still stored, open then). Before, a
/// completion anywhere in the last half minute before the deadline was answered `Expired`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_retention_a_waiter_of_the_other_store_tells_a_completion_from_an_expiry() {
    use oob::Outcome;
    use oob_tests::{manager_of, spawn_wait};

    let file = TempDb::new("other-waiter");
    let open = || {
        SqliteStore::<DeviceCode>::open(file.path())
            .expect("open")
            .with_retention(Duration::ZERO)
    };
    let (a, b) = (
        manager_of::<DeviceCode, _>(open()),
        manager_of::<DeviceCode, _>(open()),
    );
    let ttl = Duration::from_millis(1_500);

    let done = a.create(&user("u"), spec().ttl(ttl)).await.expect("create");
    let waiter = spawn_wait(&b, done.id(), Duration::from_secs(10));
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.complete(done).await.expect("complete");
    let out = waiter.await.expect("join").expect("wait");
    assert!(matches!(out, Outcome::Removed(_)), "{out:?}");

    let left = a.create(&user("u"), spec().ttl(ttl)).await.expect("create");
    let waiter = spawn_wait(&b, left.id(), Duration::from_secs(10));
    let out = waiter.await.expect("join").expect("wait");
    assert!(matches!(out, Outcome::Expired(_)), "{out:?}");
}
