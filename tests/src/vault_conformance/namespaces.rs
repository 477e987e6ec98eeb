//! Conformance cases: namespaces are isolated, and both sources of a token (the winning
//! completion's persist step, the caller's token) meet under the pending's namespace.

use oob::vault::Vault;

use super::manager;
use crate::conformance::ManualClock;
use crate::{spec, user};

/// Bob reads, lists and deletes nothing of alice's.
pub async fn namespaces_are_isolated<V: Vault<String>>(vault: V, _clock: ManualClock) {
    let m = manager();
    let (alice, bob) = (user("alice"), user("bob"));
    let (a, b) = (m.caller(&alice).expect("a"), m.caller(&bob).expect("b"));
    vault
        .put(&a, "github", "alice's".into())
        .await
        .expect("put");
    assert_eq!(vault.get(&b, "github").await.expect("get"), None);
    assert!(vault.keys(&b).await.expect("keys").is_empty());
    assert!(!vault.delete(&b, "github").await.expect("delete"));
    vault.put(&b, "github", "bob's".into()).await.expect("put");
    assert_eq!(
        vault.get(&a, "github").await.expect("get").as_deref(),
        Some("alice's")
    );
    assert_eq!(
        vault.get(&b, "github").await.expect("get").as_deref(),
        Some("bob's")
    );
}

/// The two sources of a token, end to end: the persist step of the winning completion
/// writes under the pending's namespace, and that user's caller token reads it.
pub async fn the_winning_completion_writes_and_the_caller_reads<V>(vault: V, _clock: ManualClock)
where
    V: Vault<String> + Clone,
{
    let m = manager();
    let (alice, bob) = (user("alice"), user("bob"));
    let open = m.create(&alice, spec()).await.expect("create");
    let writer = vault.clone();
    m.complete_with(open, async move |token| {
        writer
            .put(&token, "github", "from the browser".into())
            .await
    })
    .await
    .expect("complete_with");
    let a = m.caller(&alice).expect("a");
    assert_eq!(
        vault.get(&a, "github").await.expect("get").as_deref(),
        Some("from the browser")
    );
    let b = m.caller(&bob).expect("b");
    assert_eq!(vault.get(&b, "github").await.expect("get"), None);
}
