//! Creating: every field kept, default time-to-live, deadlines, invalid specs refused.

use std::time::Duration;

use oob::provider::FromVerifiedSubject;
use oob::store::MemoryStore;
use oob::{Error, Spec};
use oob_tests::*;

#[tokio::test]
async fn create_renders_callback_and_keeps_every_field() {
    let m = manager();
    let p = m
        .create(
            &user("alice"),
            spec()
                .alias("gh")
                .elicit_id("el-1")
                .ttl(Duration::from_secs(30)),
        )
        .await
        .unwrap();
    assert_eq!(
        p.callback_url(),
        format!("https://ex.com/oob/cb/{}", p.id())
    );
    assert_eq!(p.namespace().as_str(), "alice");
    assert_eq!(p.kind(), "device_code");
    assert_eq!(p.alias(), Some("gh"));
    assert_eq!(p.resource(), Some("example.com"));
    assert_eq!(p.elicit_id(), Some("el-1"));
    assert_eq!(
        p.expires_at().duration_since(p.created_at()).unwrap(),
        Duration::from_secs(30)
    );
    assert_eq!(p.data(), &device_code());
    // The same fields come back from the store.
    let again = m.open(p.id()).await.unwrap();
    assert_eq!(again.alias(), Some("gh"));
    assert_eq!(again.resource(), Some("example.com"));
    assert_eq!(again.elicit_id(), Some("el-1"));
    assert_eq!(again.created_at(), p.created_at());
    assert_eq!(again.data(), p.data());
}

#[tokio::test]
async fn default_ttl_comes_from_the_payload_then_the_builder() {
    let m = manager();
    let p = m.create(&user("a"), spec()).await.unwrap();
    assert_eq!(
        p.expires_at().duration_since(p.created_at()).unwrap(),
        Duration::from_secs(600)
    );
    let f = fixed_manager();
    let p = f.create(&(), spec()).await.unwrap();
    assert_eq!(
        p.expires_at().duration_since(p.created_at()).unwrap(),
        Duration::from_secs(60)
    );
    assert_eq!(p.namespace().as_str(), "local");
    assert!(p.callback_url().starts_with("https://ex.com/oob/cb/"));
}

#[tokio::test]
async fn invalid_specs_are_refused_and_create_nothing() {
    let m = manager();
    let e = m
        .create(&user("a"), spec().ttl(Duration::ZERO))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Spec(_)), "{e}");
    let past = std::time::SystemTime::now() - Duration::from_secs(1);
    assert!(matches!(
        m.create(&user("a"), spec().deadline(past)).await,
        Err(Error::Spec(_))
    ));
    assert!(matches!(
        m.create(&user("a"), spec().alias("x".repeat(2000))).await,
        Err(Error::Spec(_))
    ));
    assert!(matches!(
        m.create(&user("a"), spec().resource("a\nb")).await,
        Err(Error::Spec(_))
    ));
    assert!(m.store().is_empty());
}

/// A deadline at the creating call's own `now` is already past: refused, nothing created.
/// (Found by mutation testing, 2026-12-07: `<=` could become `<` with every test passing.)
#[tokio::test]
async fn a_deadline_at_now_is_already_past() {
    let clock = oob_tests::conformance::ManualClock::new();
    let m = oob::Manager::builder()
        .store(MemoryStore::<DeviceCode>::new())
        .provider(FromVerifiedSubject)
        .callback_base(oob::CallbackBase::parse("https://ex.com").unwrap())
        .clock(clock.clone())
        .build();
    let now = clock.now_system();
    assert!(matches!(
        m.create(&user("a"), spec().deadline(now)).await,
        Err(Error::Spec(_))
    ));
    assert!(m.store().is_empty());
    let later = now + Duration::from_millis(1);
    assert!(m.create(&user("a"), spec().deadline(later)).await.is_ok());
}

#[tokio::test]
async fn create_specs_with_deadline() {
    let m = manager();
    let deadline = std::time::SystemTime::now() + Duration::from_secs(3600);
    let p = m
        .create(&user("a"), Spec::new(device_code()).deadline(deadline))
        .await
        .unwrap();
    let diff = p
        .expires_at()
        .duration_since(deadline)
        .unwrap_or_else(|e| e.duration());
    assert!(diff < Duration::from_millis(1));
}
