//! The fixed workload of the Go reference benchmark, shared by the benches.
//!
//! Payload `{ verify_url: "https://ex.com/device", user_code: "ABCD-1234", message: "Enter
//! the code" }`, kind `device_code`, resource `example.com`, namespaces `user-0` …
//! `user-999` taken in turn, TTL 10 minutes, callback base `https://ex.com`, route
//! `/oob/cb/{id}`.
//!
//! Two payload shapes: `Owned` (`String` fields, one heap copy per pending) and `Shared`
//! (`&'static str` fields: what the Go reference's string literals are, a shared reference
//! with no copy).
#![allow(dead_code, unreachable_pub)]

pub mod naive;
pub mod rounds;
pub mod vec;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::store::MemoryStore;
use oob::time::{Clock, SystemClock};
use oob::{CallbackBase, Manager, Namespace, OobPayload, PendingId, Spec};

/// The payload with owned `String` fields.
#[derive(Clone, OobPayload)]
#[oob(kind = "device_code", route = "/oob/cb/{id}")]
pub struct Owned {
    verify_url: String,
    user_code: String,
    message: String,
}

/// The payload with `&'static str` fields, like the Go reference's literals.
#[derive(Clone, OobPayload)]
#[oob(kind = "device_code", route = "/oob/cb/{id}")]
pub struct Shared {
    verify_url: &'static str,
    user_code: &'static str,
    message: &'static str,
}

/// A payload of the workload.
pub trait Workload: OobPayload + Clone + Send + Sync + 'static {
    /// Its name in reports.
    const NAME: &'static str;
    /// A fresh payload.
    fn make() -> Self;
}

impl Workload for Owned {
    const NAME: &'static str = "String fields";
    fn make() -> Self {
        Self {
            verify_url: "https://ex.com/device".into(),
            user_code: "ABCD-1234".into(),
            message: "Enter the code".into(),
        }
    }
}

impl Workload for Shared {
    const NAME: &'static str = "&'static str fields";
    fn make() -> Self {
        Self {
            verify_url: "https://ex.com/device",
            user_code: "ABCD-1234",
            message: "Enter the code",
        }
    }
}

/// The manager type of the workload.
pub type M<P> = Manager<P, MemoryStore<P>, FromVerifiedSubject>;

/// A spec of the workload.
pub fn spec<P: Workload>() -> Spec<P> {
    Spec::new(P::make())
        .resource("example.com")
        .ttl(Duration::from_secs(600))
}

/// A manager over a memory store with this retention window and no per-namespace bound,
/// on the default (system) clock.
pub fn manager<P: Workload>(retention: Duration) -> M<P> {
    manager_on::<P>(retention, SystemClock)
}

/// Like [`manager`], on this clock.
pub fn manager_on<P: Workload>(retention: Duration, clock: impl Clock) -> M<P> {
    Manager::builder()
        .store(MemoryStore::new().with_retention(retention))
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .max_open_per_namespace(usize::MAX)
        .clock(clock)
        .build()
}

/// Callers `user-0` … `user-{n-1}`.
pub fn users(n: usize) -> Vec<VerifiedSubject> {
    (0..n)
        .map(|i| VerifiedSubject::new(Namespace::new(format!("user-{i}")).expect("ns")))
        .collect()
}

/// Runs a future that never suspends (the memory store's transitions never do) without an
/// executor, so the figures measure the library and not a runtime.
pub fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("memory store future suspended"),
    }
}

/// Creates `n` open pendings, taking the callers in turn (on any store whose futures do not
/// suspend).
pub fn fill<P: Workload, S: oob::Store<P>>(
    m: &Manager<P, S, FromVerifiedSubject>,
    users: &[VerifiedSubject],
    n: usize,
) -> Vec<PendingId> {
    (0..n)
        .map(|i| {
            ready(m.create(&users[i % users.len()], spec::<P>()))
                .expect("create")
                .id()
        })
        .collect()
}

/// A manager of the workload over any store, with this per-namespace bound and no total
/// bound, on the system clock.
pub fn manager_over<P: Workload, S: oob::Store<P>>(
    store: S,
    per_namespace: usize,
) -> Manager<P, S, FromVerifiedSubject> {
    Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .max_open_per_namespace(per_namespace)
        .build()
}
