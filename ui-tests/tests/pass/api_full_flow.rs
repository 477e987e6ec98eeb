//! Derive a payload, build a manager, create, complete through the callback id, persist
//! under the namespace, and read it back; the waiting task sees the outcome.
use std::time::Duration;

use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::store::MemoryStore;
use oob::vault::{MemoryVault, Vault};
use oob::{CallbackBase, Manager, Namespace, OobPayload, Outcome, Spec};

#[derive(Clone, OobPayload)]
#[oob(kind = "api_key", route = "/oob/key/{id}", ttl = "5m")]
struct ApiKey {
    service: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let m = Manager::builder()
        .store(MemoryStore::new())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").unwrap())
        .build();
    let vault = MemoryVault::<String>::new();
    let alice = VerifiedSubject::new(Namespace::new("alice").unwrap());
    let open = m
        .create(&alice, Spec::new(ApiKey { service: "gh".into() }))
        .await
        .unwrap();
    assert_eq!(open.data().service, "gh");
    let url = open.callback_url();
    let id = url.rsplit('/').next().unwrap().parse().unwrap();
    let waiter = tokio::spawn({
        let m = m.clone();
        async move { m.wait(id, Duration::from_secs(5)).await }
    });
    // The callback: only the call that wins the completion writes, under the pending's
    // namespace, before the waiter wakes.
    let open = m.open(id).await.unwrap();
    let writer = vault.clone();
    let (done, ()) = m
        .complete_with(open, async move |token| {
            writer.put(&token, "gh", "secret".into()).await
        })
        .await
        .unwrap();
    assert_eq!(done.id(), id);
    // The tool call reads it with its own caller's capability; another user sees nothing.
    let token = m.caller(&alice).unwrap();
    assert_eq!(vault.get(&token, "gh").await.unwrap().as_deref(), Some("secret"));
    let bob = VerifiedSubject::new(Namespace::new("bob").unwrap());
    assert_eq!(vault.get(&m.caller(&bob).unwrap(), "gh").await.unwrap(), None);
    assert!(matches!(waiter.await.unwrap().unwrap(), Outcome::Completed(_)));
}
