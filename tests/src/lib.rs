//! Shared fixtures for the oob integration tests.

use std::time::Duration;

use oob::provider::{FixedNamespace, FromVerifiedSubject, VerifiedSubject};
use oob::store::{Finished, MemoryStore, Store};
use oob::time::TokioClock;
use oob::{CallbackBase, Error, Manager, Namespace, OobPayload, Outcome, PendingId, Spec};

pub mod conformance;
pub mod delegate;
pub mod lost_reply;
pub mod oidc;
pub mod postgres_server;
pub mod redis_cluster;
pub mod redis_server;
pub mod soak;
pub mod sqlite_file;
pub mod vault_conformance;

/// The device-code payload of the benchmarks.
#[derive(Debug, Clone, PartialEq, Eq, OobPayload, serde::Serialize, serde::Deserialize)]
#[oob(kind = "device_code", route = "/oob/cb/{id}", ttl = "10m")]
pub struct DeviceCode {
    /// Where the user enters the code.
    pub verify_url: String,
    /// The code.
    pub user_code: String,
    /// What to tell the user.
    pub message: String,
}

/// A sample payload.
#[must_use]
pub fn device_code() -> DeviceCode {
    DeviceCode {
        verify_url: "https://ex.com/device".into(),
        user_code: "ABCD-1234".into(),
        message: "Enter the code".into(),
    }
}

/// A spec of the sample payload.
#[must_use]
pub fn spec() -> Spec<DeviceCode> {
    Spec::new(device_code()).resource("example.com")
}

/// Polls `fut` exactly once (a request's future that ran until its first wait, as when
/// its client goes away then).
pub async fn poll_once<F: std::future::Future + ?Sized>(fut: &mut std::pin::Pin<Box<F>>) {
    std::future::poll_fn(|cx| {
        let _ = fut.as_mut().poll(cx);
        std::task::Poll::Ready(())
    })
    .await;
}

/// Spawns a task that waits up to `within` for the outcome of pending `id`.
pub fn spawn_wait<S, P>(
    m: &Manager<DeviceCode, S, P>,
    id: PendingId,
    within: Duration,
) -> tokio::task::JoinHandle<Result<Outcome<DeviceCode>, Error>>
where
    S: Store<DeviceCode>,
    P: Send + Sync + 'static,
{
    let m = m.clone();
    tokio::spawn(async move { m.wait(id, within).await })
}

/// A completion whose persist step waits: `open` is completed with `complete_with` in a
/// task of its own, whose persist step runs until the returned sender is used (or dropped;
/// never, if the sender is kept), and this returns once the store reads the pending
/// completed: its waiters in this process wait for the step to end.
pub async fn persisting<S, P>(
    m: &Manager<DeviceCode, S, P>,
    open: oob::Pending<DeviceCode, oob::state::Open>,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<oob::Pending<DeviceCode, oob::state::Completed>, Error>>,
)
where
    S: Store<DeviceCode>,
    P: Send + Sync + 'static,
{
    let id = open.id();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let completing = tokio::spawn({
        let m = m.clone();
        async move {
            m.complete_with(open, async move |_t| {
                let _ = released.await;
                Ok::<_, std::io::Error>(())
            })
            .await
            .map(|(done, ())| done)
        }
    });
    while !matches!(m.get(id).await, Ok(oob::AnyPending::Completed(_))) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (release, completing)
}

/// How the pending a call met had finished, when the call failed with
/// [`Error::Finished`]; `None` for a success or any other error.
pub fn finished<R>(r: &Result<R, Error>) -> Option<Finished> {
    match r {
        Err(Error::Finished { how, .. }) => Some(*how),
        _ => None,
    }
}

/// A namespace from a literal.
#[must_use]
pub fn ns(s: &str) -> Namespace {
    Namespace::new(s).expect("valid namespace")
}

/// A verified-subject context for `s`.
#[must_use]
pub fn user(s: &str) -> VerifiedSubject {
    VerifiedSubject::new(ns(s))
}

/// The manager type most tests use.
pub type TestManager = Manager<DeviceCode, MemoryStore<DeviceCode>, FromVerifiedSubject>;

/// A manager over a memory store, namespaces from verified subjects, on tokio's clock.
#[must_use]
pub fn manager() -> TestManager {
    manager_with(MemoryStore::new())
}

/// A manager over the given store.
#[must_use]
pub fn manager_with(store: MemoryStore<DeviceCode>) -> TestManager {
    Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("valid base"))
        .clock(TokioClock::new())
        .build()
}

/// A manager of any payload type over any store, namespaces from verified subjects (for
/// tests that put two payload types on one backend).
#[must_use]
pub fn manager_of<T, S>(store: S) -> Manager<T, S, FromVerifiedSubject>
where
    T: oob::OobPayload + Clone + Send + Sync + 'static,
    S: oob::store::Store<T>,
{
    Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("valid base"))
        .build()
}

/// A single-user manager (fixed namespace `local`).
#[must_use]
pub fn fixed_manager() -> Manager<DeviceCode, MemoryStore<DeviceCode>, FixedNamespace> {
    Manager::builder()
        .store(MemoryStore::new())
        .provider(FixedNamespace::new(ns("local")))
        .callback_base(CallbackBase::parse("https://ex.com/").expect("valid base"))
        .default_ttl(Duration::from_secs(60))
        .build()
}
