//! Dedup: `create_or_join` joins one open pending per namespace, alias and resource, and a
//! decline answers for its cooldown.

use std::sync::Arc;
use std::time::Duration;

use oob::store::MemoryStore;
use oob::{Joined, Spec};
use oob_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_or_join_under_100_concurrent_callers_yields_one_pending() {
    let m = manager();
    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let m = m.clone();
            let b = barrier.clone();
            tokio::spawn(async move {
                b.wait().await;
                m.create_or_join(&user("a"), spec().alias("gh")).await
            })
        })
        .collect();
    let mut ids = std::collections::HashSet::new();
    let mut created = 0;
    for t in tasks {
        let j = t.await.unwrap().unwrap();
        if matches!(j, Joined::Created(_)) {
            created += 1;
        }
        ids.insert(j.into_open().unwrap().id());
    }
    assert_eq!(created, 1);
    assert_eq!(ids.len(), 1);
    assert_eq!(m.list(&user("a")).await.unwrap().len(), 1);
}

#[tokio::test]
async fn dedup_key_is_namespace_alias_and_resource() {
    let m = manager();
    let joins = async |who: &str, spec: Spec<DeviceCode>| {
        m.create_or_join(&user(who), spec)
            .await
            .unwrap()
            .is_joined()
    };
    let a = m
        .create_or_join(&user("a"), spec().alias("x"))
        .await
        .unwrap();
    assert!(!a.is_joined());
    let a = a.into_open().unwrap();
    assert!(joins("a", spec().alias("x")).await);
    // Another alias, resource or namespace creates anew.
    assert!(!joins("a", spec().alias("y")).await);
    assert!(!joins("a", spec().alias("x").resource("other")).await);
    assert!(!joins("b", spec().alias("x")).await);
    // A finished one is not joined.
    m.complete(a).await.unwrap();
    assert!(!joins("a", spec().alias("x")).await);
}

#[tokio::test(start_paused = true)]
async fn decline_cooldown_answers_with_the_decline() {
    let m = oob::Manager::builder()
        .store(MemoryStore::new())
        .provider(oob::provider::FromVerifiedSubject)
        .callback_base(oob::CallbackBase::parse("https://ex.com").unwrap())
        .clock(oob::time::TokioClock::new())
        .decline_cooldown(Duration::from_secs(60))
        .build();
    let p = m
        .create_or_join(&user("a"), spec().alias("x"))
        .await
        .unwrap()
        .into_open()
        .unwrap();
    let declined_id = p.id();
    m.decline(p).await.unwrap();
    match m
        .create_or_join(&user("a"), spec().alias("x"))
        .await
        .unwrap()
    {
        Joined::Declined(d) => assert_eq!(d.id(), declined_id),
        other => panic!("{other:?}"),
    }
    tokio::time::advance(Duration::from_secs(61)).await;
    assert!(matches!(
        m.create_or_join(&user("a"), spec().alias("x"))
            .await
            .unwrap(),
        Joined::Created(_)
    ));
}
