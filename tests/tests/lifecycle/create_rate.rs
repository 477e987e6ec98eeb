//! `ManagerBuilder::max_creates_per_namespace`: a namespace's creates beyond its rate are
//! refused with `Error::RateLimited` and store nothing, other namespaces go on, and the rate
//! refills with time. The rule is the manager's, the same over every store: the cases run
//! on the memory store and on SQLite.

use std::num::NonZeroU32;
use std::time::Duration;

use oob::provider::FromVerifiedSubject;
use oob::store::{MemoryStore, SqliteStore, Store};
use oob::{CallbackBase, Error, Manager, Spec};
use oob_tests::conformance::ManualClock;
use oob_tests::{DeviceCode, device_code, spec, user};

type M<S> = Manager<DeviceCode, S, FromVerifiedSubject>;

/// `n` creates per minute in each namespace, on `store`, with a clock the test moves.
fn manager<S: Store<DeviceCode>>(store: S, n: u32) -> (M<S>, ManualClock) {
    let clock = ManualClock::new();
    let m = Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .clock(clock.clone())
        .max_creates_per_namespace(NonZeroU32::new(n).expect("n"), Duration::from_secs(60))
        .build();
    (m, clock)
}

fn limited(r: Result<impl Sized, Error>) -> Duration {
    match r {
        Err(Error::RateLimited { retry_after }) => retry_after,
        Err(e) => panic!("expected RateLimited, got {e:?}"),
        Ok(_) => panic!("expected RateLimited, got a pending"),
    }
}

async fn beyond_the_rate<S: Store<DeviceCode>>(store: S) {
    let (m, clock) = manager(store, 3);
    let (alice, bob) = (user("alice"), user("bob"));
    m.create(&alice, spec()).await.expect("first");
    m.create_or_join(&alice, spec().resource("other.example"))
        .await
        .expect("second");
    m.create(&alice, spec()).await.expect("third");
    // 3 per minute: one every 20 s once the burst is spent.
    assert_eq!(
        limited(m.create(&alice, spec()).await),
        Duration::from_secs(20)
    );
    assert_eq!(
        limited(
            m.create_or_join(&alice, spec().resource("third.example"))
                .await
        ),
        Duration::from_secs(20)
    );
    assert!(
        limited(m.create(&alice, spec()).await).as_millis() > 0,
        "a refused create spends nothing, so it stays refused"
    );
    assert_eq!(
        m.list(&alice).await.expect("list").len(),
        3,
        "nothing stored"
    );
    m.create(&bob, spec())
        .await
        .expect("another namespace has its own rate");
    clock.advance(Duration::from_secs(19));
    assert_eq!(
        limited(m.create(&alice, spec()).await),
        Duration::from_secs(1)
    );
    clock.advance(Duration::from_secs(1));
    m.create(&alice, spec()).await.expect("one more after 20 s");
    assert!(matches!(
        m.create(&alice, spec()).await,
        Err(Error::RateLimited { .. })
    ));
    assert_eq!(m.list(&alice).await.expect("list").len(), 4);
}

#[tokio::test]
async fn creates_beyond_the_rate_are_refused_and_store_nothing_memory() {
    beyond_the_rate(MemoryStore::new()).await;
}

#[tokio::test]
async fn creates_beyond_the_rate_are_refused_and_store_nothing_sqlite() {
    beyond_the_rate(SqliteStore::open_in_memory().expect("open")).await;
}

/// A join takes its share of the rate like a create (every call counts).
#[tokio::test]
async fn a_join_counts() {
    let (m, _clock) = manager(MemoryStore::new(), 2);
    let alice = user("alice");
    let first = m.create_or_join(&alice, spec()).await.expect("create");
    let joined = m.create_or_join(&alice, spec()).await.expect("join");
    assert!(joined.is_joined());
    assert_eq!(
        first.into_open().expect("open").id(),
        joined.into_open().expect("open").id()
    );
    limited(m.create_or_join(&alice, spec()).await);
}

/// A spec refused before the store is asked spends nothing.
#[tokio::test]
async fn a_refused_spec_spends_nothing() {
    let (m, clock) = manager(MemoryStore::new(), 1);
    let alice = user("alice");
    let past = clock.now_system() - Duration::from_secs(1);
    let expired = Spec::new(device_code()).deadline(past);
    assert!(matches!(
        m.create(&alice, expired).await,
        Err(Error::Spec(_))
    ));
    m.create(&alice, spec()).await.expect("the rate is whole");
    limited(m.create(&alice, spec()).await);
}

/// The error says what happened and when to try again, and names no namespace.
#[tokio::test]
async fn the_error_says_when_and_names_no_namespace() {
    let (m, _clock) = manager(MemoryStore::new(), 1);
    let alice = user("alice@example.com");
    m.create(&alice, spec()).await.expect("create");
    let e = m.create(&alice, spec()).await.expect_err("limited");
    assert!(e.is_client_error());
    let shown = format!("{e} {e:?}");
    assert!(shown.contains("60000 ms"), "{shown}");
    assert!(!shown.contains("alice"), "{shown}");
}
