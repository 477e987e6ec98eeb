//! Namespaces: a transition, list, clear or vault write never crosses one, and `Debug`
//! shows none.

use oob::Error;
use oob::state::CancelReason;
use oob::vault::{MemoryVault, Vault};
use oob_tests::*;

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
