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
    // The token's fields are private: only a winning completion or a verified caller makes one.
    let _token: oob::NamespaceToken<'static> = oob::NamespaceToken {
        namespace: Namespace::new("victim").unwrap(),
        _scope: std::marker::PhantomData,
    };
}
