#![allow(unused_imports)]
use oob::provider::{FixedNamespace, FromVerifiedSubject, VerifiedSubject};
use oob::store::MemoryStore;
use oob::vault::{MemoryVault, Vault};
use oob::{AnyPending, CallbackBase, Manager, Namespace, OobPayload, Outcome, Spec};

#[derive(Clone, OobPayload)]
#[oob(kind = "api_key", route = "/oob/key/{id}")]
struct ApiKey;

/// A multi-user server: namespaces come from the verified request.
type M = Manager<ApiKey, MemoryStore<ApiKey>, FromVerifiedSubject>;

fn manager() -> M {
    Manager::builder()
        .store(MemoryStore::new())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").unwrap())
        .build()
}

fn alice() -> VerifiedSubject {
    VerifiedSubject::new(Namespace::new("alice").unwrap())
}

async fn run(m: M, vault: MemoryVault<String>) {
    let for_alice = m.create(&alice(), Spec::new(ApiKey)).await.unwrap();
    let bob = VerifiedSubject::new(Namespace::new("bob").unwrap());
    let for_bob = m.create(&bob, Spec::new(ApiKey)).await.unwrap();
    let m2 = m.clone();
    let _ = m
        .complete_with(for_alice, async move |alice_token| {
            // Bob's secret under alice's token: the persist step is 'static, so it cannot
            // capture another completion's token.
            let v = vault.clone();
            m2.complete_with(for_bob, async move |_bob_token| {
                v.put(&alice_token, "k", "bob's secret".into()).await
            })
            .await
            .map(|_| ())
            .map_err(|e| std::io::Error::other(e.to_string()))
        })
        .await;
}
fn main() { let _ = (manager, run); }
