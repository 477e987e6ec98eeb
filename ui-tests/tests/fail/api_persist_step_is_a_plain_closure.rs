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
    let open = m.create(&alice(), Spec::new(ApiKey)).await.unwrap();
    // A closure returning a future cannot take the token: write an async closure.
    let _ = m
        .complete_with(open, move |token| async move {
            vault.put(&token, "k", "secret".into()).await
        })
        .await;
}
fn main() { let _ = (manager, run); }
