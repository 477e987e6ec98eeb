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

async fn run(m: M) {
    // There is no raw put: nothing outside the manager writes a record's state or namespace.
    let forged: oob::store::Record<ApiKey> = todo_record();
    let _ = m.store().put(forged).await;
}
fn todo_record() -> oob::store::Record<ApiKey> { unimplemented!() }
fn main() { let _ = (manager, run); }
