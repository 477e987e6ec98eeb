//! The SQLite store's connection thread against its jobs' failures (found in review,
//! 2026-12-07): a job that panics (a payload's `Deserialize`, run on the thread to check a
//! transition) fails its batch and leaves the store serving (it killed the thread, and
//! every later call answered `WorkerGone`); a create whose caller went away before its job
//! ran inserts nothing (it inserted a pending nobody got the id of, taking capacity); the
//! database file and its journal are private to their owner (they were world-readable).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use oob::provider::FixedNamespace;
use oob::store::SqliteStore;
use oob::store::sqlite::SqliteOptions;
use oob::vault::{SqliteVault, Vault};
use oob::{AnyPending, CallbackBase, Manager, OobPayload, Spec};
use oob_tests::sqlite_file::TempDb;
use oob_tests::{DeviceCode, ns, poll_once, spec};

fn manager<T>(store: SqliteStore<T>) -> Manager<T, SqliteStore<T>, FixedNamespace>
where
    T: OobPayload + Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
{
    Manager::builder()
        .store(store)
        .provider(FixedNamespace::new(ns("alice")))
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .build()
}

static ARMED: AtomicBool = AtomicBool::new(false);

/// A payload whose decoder panics while [`ARMED`] is set.
#[derive(Debug, Clone, serde::Serialize, OobPayload)]
#[oob(kind = "bomb", route = "/oob/bomb/{id}")]
struct Bomb {
    n: u32,
}

impl<'de> serde::Deserialize<'de> for Bomb {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Raw {
            n: u32,
        }
        let raw = Raw::deserialize(d)?;
        assert!(!ARMED.load(Ordering::SeqCst), "a payload decoder's bug");
        Ok(Self { n: raw.n })
    }
}

#[tokio::test]
async fn a_job_that_panics_fails_its_batch_and_the_store_goes_on() {
    let file = TempDb::new("jobs-panic");
    let store = SqliteStore::<Bomb>::open(file.path()).expect("open");
    let vault = SqliteVault::<String>::from_store(&store);
    let m = manager(store);
    let a = m
        .create(&(), Spec::new(Bomb { n: 1 }))
        .await
        .expect("create");
    let b = m
        .create(&(), Spec::new(Bomb { n: 2 }))
        .await
        .expect("create");
    ARMED.store(true, Ordering::SeqCst);
    // The transition decodes the payload on the connection thread: it panics there.
    let failed = m.complete_id(a.id()).await;
    ARMED.store(false, Ordering::SeqCst);
    let e = failed.expect_err("the panicking job fails");
    assert!(matches!(e, oob::Error::Store(_)), "{e:?}");
    // The store goes on: the panicking job's pending is still open, the others work.
    assert!(matches!(
        m.get(a.id()).await.expect("get"),
        AnyPending::Open(_)
    ));
    m.complete_id(a.id())
        .await
        .expect("complete after the panic");
    m.complete_id(b.id()).await.expect("complete");
    m.create(&(), Spec::new(Bomb { n: 3 }))
        .await
        .expect("create");
    let token = m.caller(&()).expect("caller");
    vault.put(&token, "k", "v".into()).await.expect("vault put");
}

/// Polls `fut` once (its job is queued), then drops it: a request that went away.
async fn poll_once_then_drop(fut: impl Future) {
    poll_once(&mut Box::pin(fut)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_caller_went_away_before_it_ran_inserts_nothing() {
    let file = TempDb::new("jobs-dropped");
    let store = SqliteStore::<DeviceCode>::open_with(
        file.path(),
        SqliteOptions::default().busy_timeout(Duration::from_secs(30)),
    )
    .expect("open");
    let m = manager(store);
    let kept = m.create(&(), spec()).await.expect("create");
    // Another connection holds the write lock, so the thread waits with the jobs queued.
    let locker = rusqlite::Connection::open(file.path()).expect("locker");
    locker.execute_batch("BEGIN IMMEDIATE").expect("lock");
    for i in 0..20 {
        poll_once_then_drop(m.create(&(), spec().alias(format!("gone-{i}")))).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    locker.execute_batch("COMMIT").expect("unlock");
    drop(locker);
    // A create after them runs after them (one queue): then the list is final.
    let last = m.create(&(), spec()).await.expect("create");
    let mut listed: Vec<_> = m
        .list(&())
        .await
        .expect("list")
        .iter()
        .map(oob::Pending::id)
        .collect();
    listed.sort();
    let mut want = vec![kept.id(), last.id()];
    want.sort();
    assert_eq!(listed, want, "the dropped creates inserted nothing");
}

#[cfg(unix)]
#[tokio::test]
async fn the_database_and_its_journal_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let file = TempDb::new("jobs-mode");
    let store = SqliteStore::<DeviceCode>::open(file.path()).expect("open");
    let vault = SqliteVault::<String>::from_store(&store);
    let m = manager(store);
    m.create(&(), spec()).await.expect("create");
    let token = m.caller(&()).expect("caller");
    vault.put(&token, "k", "v".into()).await.expect("put");
    for suffix in ["", "-wal", "-shm"] {
        let mut path = file.path().as_os_str().to_owned();
        path.push(suffix);
        let mode = std::fs::metadata(&path).expect("file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{suffix}: {mode:o}");
    }
}
