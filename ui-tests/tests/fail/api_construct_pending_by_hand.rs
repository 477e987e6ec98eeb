#![allow(unused_imports)]
use std::time::Duration;
use oob::provider::FixedNamespace;
use oob::store::MemoryStore;
use oob::vault::{MemoryVault, Vault};
use oob::{CallbackBase, Manager, Namespace, OobPayload, Spec};

#[derive(Clone, OobPayload)]
#[oob(kind = "api_key", route = "/oob/key/{id}")]
struct ApiKey;

type M = Manager<ApiKey, MemoryStore<ApiKey>, FixedNamespace>;

fn manager() -> M {
    Manager::builder()
        .store(MemoryStore::new())
        .provider(FixedNamespace::new(Namespace::new("alice").unwrap()))
        .callback_base(CallbackBase::parse("https://ex.com").unwrap())
        .build()
}

fn main() {
    let _ = (manager, Duration::ZERO);
    // A pending's fields are private (and its callback template is not even nameable):
    // only the manager makes one, from what its store holds.
    let _forged: oob::Pending<ApiKey, oob::state::Completed> = oob::Pending {
        id: oob::PendingId::random(),
        namespace: Namespace::new("victim").unwrap(),
        created_at: oob::time::Timestamp::EPOCH,
        expires_at: oob::time::Timestamp::EPOCH,
        body: std::sync::Arc::new(oob::store::Body::new(ApiKey, None, None, None)),
        state: oob::state::Completed { at: oob::time::Timestamp::EPOCH },
    };
}
