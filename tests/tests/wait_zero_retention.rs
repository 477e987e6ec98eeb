//! With zero retention an expired record is gone at its deadline, as a finished one is at
//! once: a waiter that finds it gone past its deadline with no event of it asks the store
//! as of just before the deadline, and answers `Expired` for a true expiry however late its
//! read comes. (A first version decided by the time of the waiter's last read, and answered
//! `Removed` whenever a busy runtime or a paused test clock made it miss that read; found by
//! a hostile review, 2026-12-07. A completion another process made is answered `Removed`:
//! `sqlite_shared_file.rs`.)

use std::time::Duration;

use oob::provider::FromVerifiedSubject;
use oob::store::MemoryStore;
use oob::time::TokioClock;
use oob::{CallbackBase, Manager, Outcome};
use oob_tests::{DeviceCode, spawn_wait, spec, user};

fn manager(
    clock: Option<TokioClock>,
) -> Manager<DeviceCode, MemoryStore<DeviceCode>, FromVerifiedSubject> {
    let b = Manager::builder()
        .store(MemoryStore::<DeviceCode>::new().with_retention(Duration::ZERO))
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"));
    match clock {
        Some(c) => b.clock(c).build(),
        None => b.build(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_paused_clock_moved_past_the_deadline_answers_expired() {
    let m = manager(Some(TokioClock::new()));
    let p = m
        .create(&user("u"), spec().ttl(Duration::from_secs(60)))
        .await
        .expect("create");
    let waiter = spawn_wait(&m, p.id(), Duration::from_secs(3_600));
    tokio::task::yield_now().await;
    tokio::time::advance(Duration::from_secs(61)).await;
    let out = waiter.await.expect("join").expect("wait");
    assert!(matches!(out, Outcome::Expired(_)), "{out:?}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_runtime_busy_across_the_deadline_answers_expired() {
    let m = manager(None);
    let p = m
        .create(&user("u"), spec().ttl(Duration::from_millis(1_000)))
        .await
        .expect("create");
    let waiter = spawn_wait(&m, p.id(), Duration::from_secs(10));
    tokio::time::sleep(Duration::from_millis(850)).await;
    // The runtime's one thread busy from 850 ms to 1,100 ms: the waiter reads late.
    std::thread::sleep(Duration::from_millis(250));
    let out = waiter.await.expect("join").expect("wait");
    assert!(matches!(out, Outcome::Expired(_)), "{out:?}");
}
