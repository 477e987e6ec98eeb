#![allow(unused_imports)]
use oob::provider::{FixedNamespace, FromVerifiedSubject, VerifiedSubject};
use oob::store::MemoryStore;
use oob::vault::{MemoryVault, Vault};
use oob::{CallbackBase, Manager, Namespace, OobPayload, Spec};

#[derive(Clone, OobPayload)]
#[oob(kind = "api_key", route = "/oob/key/{id}")]
struct ApiKey;

fn manager<P: Send + Sync + 'static>(provider: P) -> Manager<ApiKey, MemoryStore<ApiKey>, P> {
    Manager::builder()
        .store(MemoryStore::new())
        .provider(provider)
        .callback_base(CallbackBase::parse("https://ex.com").unwrap())
        .build()
}

async fn run(vault: MemoryVault<String>) {
    // A caller token from a 'static context (`&()`) still borrows its manager, so a persist
    // step (which is 'static) cannot carry it into another user's completion.
    let side = manager(FixedNamespace::new(Namespace::new("alice").unwrap()));
    let alice_token = side.caller(&()).unwrap();
    let m = manager(FromVerifiedSubject);
    let bob = VerifiedSubject::new(Namespace::new("bob").unwrap());
    let open = m.create(&bob, Spec::new(ApiKey)).await.unwrap();
    let _ = m
        .complete_with(open, async move |_bob_token| {
            vault.put(&alice_token, "github", "bob's secret".into()).await
        })
        .await;
}
fn main() { let _ = run; }
