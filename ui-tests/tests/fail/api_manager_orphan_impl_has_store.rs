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

// The orphan rule admits this impl (the payload type is local), but the builder's marker
// traits are sealed: `build()` without `.store()` still does not compile.
impl oob::manager::builder::HasStore<ApiKey> for oob::manager::Missing {
    type Store = MemoryStore<ApiKey>;
    fn into_store(self) -> MemoryStore<ApiKey> {
        MemoryStore::new()
    }
}

fn main() {
    let _ = (manager, Duration::ZERO);
    let _m = Manager::<ApiKey, _, _>::builder()
        .provider(FixedNamespace::new(Namespace::new("alice").unwrap()))
        .callback_base(CallbackBase::parse("https://ex.com").unwrap())
        .build();
}
