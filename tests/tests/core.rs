//! The core contract: transitions, errors, namespaces, atomicity, indexes.

use std::sync::Arc;
use std::time::Duration;

use oob::provider::{FixedNamespace, FromVerifiedSubject, ProviderError, VerifiedSubject};
use oob::state::CancelReason;
use oob::store::{Finished, MemoryStore, RecordState, Store, Wake};
use oob::time::Timestamp;
use oob::vault::{MemoryVault, Vault};
use oob::{AnyPending, Error, Namespace, PendingId, Spec};
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
async fn complete_then_every_later_transition_fails_saying_how() {
    let m = manager();
    let p = m.create(&user("a"), spec()).await.unwrap();
    let id = p.id();
    let done = m.complete(p).await.unwrap();
    assert_eq!(done.id(), id);
    assert!(done.completed_at() >= done.created_at());
    for r in [
        m.complete_id(id).await.map(|_| ()),
        m.cancel_id(id, CancelReason::Cancelled, None)
            .await
            .map(|_| ()),
        m.cancel_id(id, CancelReason::Declined, None)
            .await
            .map(|_| ()),
        m.open(id).await.map(|_| ()),
    ] {
        assert!(
            matches!(r, Err(Error::Finished { how: Finished::Completed, id: e }) if e == id),
            "{r:?}"
        );
    }
    assert!(matches!(m.get(id).await.unwrap(), AnyPending::Completed(_)));
}

#[tokio::test]
async fn cancel_and_decline_are_recorded_apart() {
    let m = manager();
    let a = m.create(&user("a"), spec()).await.unwrap();
    let b = m.create(&user("a"), spec()).await.unwrap();
    let (ida, idb) = (a.id(), b.id());
    let ca = m.cancel(a).await.unwrap();
    assert_eq!(ca.reason(), CancelReason::Cancelled);
    assert!(!ca.is_declined());
    let cb = m.decline(b).await.unwrap();
    assert!(cb.is_declined());
    assert_eq!(
        finished(&m.complete_id(ida).await),
        Some(Finished::Cancelled)
    );
    assert_eq!(
        finished(&m.complete_id(idb).await),
        Some(Finished::Declined)
    );
    match m.get(idb).await.unwrap() {
        AnyPending::Cancelled(p) => assert!(p.is_declined()),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn unknown_ids_are_not_found() {
    let m = manager();
    let id = PendingId::random();
    assert!(matches!(m.get(id).await, Err(Error::NotFound(e)) if e == id));
    assert!(matches!(m.open(id).await, Err(Error::NotFound(_))));
    assert!(matches!(m.complete_id(id).await, Err(Error::NotFound(_))));
    assert!(matches!(
        m.cancel_id(id, CancelReason::Cancelled, None).await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        m.wait(id, Duration::from_millis(10)).await,
        Err(Error::NotFound(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn expired_pending_cannot_be_completed_and_is_not_listed() {
    let m = manager();
    let p = m
        .create(&user("a"), spec().ttl(Duration::from_secs(5)))
        .await
        .unwrap();
    let keep = m.create(&user("a"), spec()).await.unwrap();
    let id = p.id();
    tokio::time::advance(Duration::from_secs(6)).await;
    assert!(matches!(m.complete(p).await, Err(Error::Expired(e)) if e == id));
    assert!(matches!(m.open(id).await, Err(Error::Expired(_))));
    assert!(matches!(m.get(id).await.unwrap(), AnyPending::Expired(_)));
    let listed: Vec<_> = m
        .list(&user("a"))
        .await
        .unwrap()
        .iter()
        .map(|p| p.id())
        .collect();
    assert_eq!(listed, vec![keep.id()]);
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
async fn provider_failure_is_typed() {
    let m = manager();
    let anonymous: Option<VerifiedSubject> = None;
    let m2 = oob::Manager::builder()
        .store(MemoryStore::<DeviceCode>::new())
        .provider(FromVerifiedSubject)
        .callback_base(oob::CallbackBase::parse("https://ex.com").unwrap())
        .build();
    assert!(matches!(
        m2.create(&anonymous, spec()).await,
        Err(Error::Provider(ProviderError::NoIdentity))
    ));
    assert!(m.store().is_empty());
}

#[tokio::test]
async fn namespace_mismatch_is_an_error_and_leaves_the_pending_open() {
    let m = manager();
    let p = m.create(&user("alice"), spec()).await.unwrap();
    let id = p.id();
    let e = m.complete_in(id, &ns("mallory")).await.unwrap_err();
    assert!(matches!(e, Error::NamespaceMismatch(x) if x == id));
    assert!(matches!(
        m.cancel_id(id, CancelReason::Declined, Some(&ns("mallory")))
            .await,
        Err(Error::NamespaceMismatch(_))
    ));
    // Still open, and completable by its own namespace.
    let open = m.open(id).await.unwrap();
    assert_eq!(open.namespace().as_str(), "alice");
    let done = m.complete_in(id, &ns("alice")).await.unwrap();
    assert_eq!(done.namespace().as_str(), "alice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_completes_give_exactly_one_success() {
    let m = manager();
    let p = m.create(&user("a"), spec()).await.unwrap();
    let id = p.id();
    let barrier = Arc::new(tokio::sync::Barrier::new(1000));
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let m = m.clone();
            let b = barrier.clone();
            tokio::spawn(async move {
                b.wait().await;
                m.complete_id(id).await
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(Error::Finished {
                how: Finished::Completed,
                ..
            }) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn list_and_clear_never_cross_namespaces() {
    let m = manager();
    let mut a_ids = Vec::new();
    for _ in 0..5 {
        a_ids.push(m.create(&user("a"), spec()).await.unwrap().id());
    }
    let b = m.create(&user("b"), spec()).await.unwrap();
    let mut listed: Vec<_> = m
        .list(&user("a"))
        .await
        .unwrap()
        .iter()
        .map(|p| p.id())
        .collect();
    listed.sort();
    a_ids.sort();
    assert_eq!(listed, a_ids);
    assert!(
        m.list(&user("a"))
            .await
            .unwrap()
            .iter()
            .all(|p| p.namespace().as_str() == "a")
    );
    assert_eq!(m.clear(&user("a")).await.unwrap(), 5);
    assert!(m.list(&user("a")).await.unwrap().is_empty());
    for id in &a_ids {
        assert!(matches!(m.get(*id).await, Err(Error::NotFound(_))));
    }
    let bl = m.list(&user("b")).await.unwrap();
    assert_eq!(bl.len(), 1);
    assert_eq!(bl[0].id(), b.id());
    assert_eq!(m.clear(&user("nobody")).await.unwrap(), 0);
    assert!(m.complete(b).await.is_ok());
}

/// The operator's handle clears a namespace named in text, and no other.
#[tokio::test]
async fn operator_clears_only_the_namespace_it_names() {
    let m = manager();
    let a = m.create(&user("a"), spec()).await.unwrap();
    let done = m.create(&user("a"), spec()).await.unwrap();
    let done_id = done.id();
    m.complete(done).await.unwrap();
    let b = m.create(&user("b"), spec()).await.unwrap();
    assert_eq!(m.operator().clear_namespace(&ns("a")).await.unwrap(), 2);
    assert!(matches!(m.get(a.id()).await, Err(Error::NotFound(_))));
    assert!(matches!(m.get(done_id).await, Err(Error::NotFound(_))));
    assert!(m.list(&user("a")).await.unwrap().is_empty());
    assert_eq!(m.list(&user("b")).await.unwrap().len(), 1);
    assert_eq!(
        m.operator().clear_namespace(&ns("nobody")).await.unwrap(),
        0
    );
    assert!(m.complete(b).await.is_ok());
}

#[tokio::test]
async fn store_transitions_check_expiry_and_namespace() {
    let m = manager();
    let p = m
        .create(&user("a"), spec().ttl(Duration::from_secs(100)))
        .await
        .unwrap();
    let store = m.store();
    let id = p.id();
    let created = Timestamp::from_system_time(p.created_at());
    let early = created.saturating_add(Duration::from_secs(50));
    let late = Timestamp::from_system_time(p.expires_at());
    assert_eq!(late, created.saturating_add(Duration::from_secs(100)));
    assert!(matches!(
        store.complete(id, Some(&ns("b")), early, Wake::Now).await,
        Err(oob::store::TransitionError::NamespaceMismatch)
    ));
    let a = user("a");
    let token = m.caller(&a).unwrap();
    assert_eq!(
        store
            .list_namespace(token.scope(), early)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store.get(id, late).await.unwrap().unwrap().state,
        RecordState::Expired { at: late }
    );
    assert!(matches!(
        store.complete(id, None, late, Wake::Now).await,
        Err(oob::store::TransitionError::Finished(Finished::Expired))
    ));
    assert!(
        store
            .list_namespace(token.scope(), late)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn retention_window_then_purge() {
    let m = manager_with(MemoryStore::new().with_retention(Duration::from_secs(10)));
    let p = m.create(&user("a"), spec()).await.unwrap();
    let store = m.store();
    let id = p.id();
    let t0 = Timestamp::from_system_time(p.created_at()).saturating_add(Duration::from_secs(1));
    store.complete(id, None, t0, Wake::Now).await.unwrap();
    let within = t0.saturating_add(Duration::from_secs(9));
    let after = t0.saturating_add(Duration::from_secs(10));
    assert_eq!(store.purge(within).await.unwrap(), 0);
    assert!(matches!(
        store.get(id, within).await.unwrap().unwrap().state,
        RecordState::Completed { .. }
    ));
    assert_eq!(store.purge(after).await.unwrap(), 1);
    assert!(store.get(id, after).await.unwrap().is_none());
    assert!(store.is_empty());
}

#[tokio::test]
async fn zero_retention_forgets_at_once() {
    let m = manager_with(MemoryStore::new().with_retention(Duration::ZERO));
    let p = m.create(&user("a"), spec()).await.unwrap();
    let id = p.id();
    m.complete(p).await.unwrap();
    assert!(m.store().is_empty());
    assert!(matches!(m.get(id).await, Err(Error::NotFound(_))));
}

#[tokio::test]
async fn vault_writes_only_under_the_completed_namespace() {
    let m = manager();
    let vault = MemoryVault::<String>::new();
    let alice = m.create(&user("alice"), spec()).await.unwrap();
    let bob = m.create(&user("bob"), spec()).await.unwrap();
    let writer = vault.clone();
    let (alice_done, ()) = m
        .complete_with(alice, async move |token| {
            writer.put(&token, "github", "alice-token".into()).await
        })
        .await
        .unwrap();
    assert_eq!(alice_done.namespace(), &ns("alice"));
    // Each verified caller reads with their own capability.
    let (alice_cx, bob_cx) = (user("alice"), user("bob"));
    let (alice_t, bob_t) = (m.caller(&alice_cx).unwrap(), m.caller(&bob_cx).unwrap());
    assert_eq!(
        vault.get(&alice_t, "github").await.unwrap().as_deref(),
        Some("alice-token")
    );
    assert_eq!(vault.get(&bob_t, "github").await.unwrap(), None);
    let writer = vault.clone();
    m.complete_with(bob, async move |token| {
        writer.put(&token, "github", "bob-token".into()).await
    })
    .await
    .unwrap();
    assert_eq!(
        vault.get(&alice_t, "github").await.unwrap().as_deref(),
        Some("alice-token")
    );
    assert_eq!(
        vault.get(&bob_t, "github").await.unwrap().as_deref(),
        Some("bob-token")
    );
    assert_eq!(
        vault.keys(&bob_t).await.unwrap(),
        vec!["github".to_string()]
    );
    assert!(vault.delete(&bob_t, "github").await.unwrap());
    assert!(!vault.delete(&bob_t, "github").await.unwrap());
    assert_eq!(vault.get(&bob_t, "github").await.unwrap(), None);
    assert_eq!(
        vault.keys(&alice_t).await.unwrap(),
        vec!["github".to_string()]
    );
    // A plain completion writes nothing.
    let carol = m.create(&user("carol"), spec()).await.unwrap();
    m.complete(carol).await.unwrap();
    let carol_cx = user("carol");
    assert!(
        vault
            .keys(&m.caller(&carol_cx).unwrap())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn debug_output_never_shows_payload_or_namespace() {
    let m = manager();
    let p = m.create(&user("alice@example.com"), spec()).await.unwrap();
    let s = format!("{p:?}");
    assert!(!s.contains("alice"), "{s}");
    assert!(!s.contains("ABCD-1234"), "{s}");
    let (done, t) = m
        .complete_with(p, async |token| {
            Ok::<_, std::io::Error>(format!("{token:?} {token:#?}"))
        })
        .await
        .unwrap();
    assert!(!t.contains("alice"), "{t}");
    let s = format!("{done:?} {:?}", done.namespace());
    assert!(!s.contains("alice"), "{s}");
    let cx = user("alice@example.com");
    let t = format!("{:?}", m.caller(&cx).unwrap());
    assert!(!t.contains("alice"), "{t}");
}

#[tokio::test]
async fn bearer_hash_namespaces_are_keyed_and_stable() {
    use oob::NamespaceProvider;
    use oob::provider::{BearerHash, BearerToken};
    let p = BearerHash::new([7u8; 32]).unwrap();
    let q = BearerHash::new([8u8; 32]).unwrap();
    let a = p.namespace(&BearerToken("tok-a".into())).unwrap();
    assert_eq!(a, p.namespace(&BearerToken("tok-a".into())).unwrap());
    assert_ne!(a, p.namespace(&BearerToken("tok-b".into())).unwrap());
    assert_ne!(a, q.namespace(&BearerToken("tok-a".into())).unwrap());
    assert!(!a.as_str().contains("tok-a"));
    assert_eq!(a.as_str().len(), "bearer:".len() + 64);
    assert!(matches!(
        p.namespace(&BearerToken(String::new())),
        Err(ProviderError::NoIdentity)
    ));
    assert!(BearerHash::new([0u8; 16]).is_err());
}

#[tokio::test]
async fn fixed_namespace_ignores_the_context() {
    use oob::NamespaceProvider;
    let p = FixedNamespace::new(ns("local"));
    assert_eq!(p.namespace(&"anything").unwrap(), ns("local"));
    let _: Namespace = p.namespace(&()).unwrap();
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
