// A custom store is handed a `NamespaceScope` when the manager lists or clears (the
// operator's clear of a namespace named in text included). It must not open a vault: a
// scope is not a namespace capability.
use oob::store::{MemoryStore, NamespaceScope};
use oob::vault::{MemoryVault, Vault};

async fn inside_a_custom_clear(scope: NamespaceScope<'_>, vault: &MemoryVault<String>) {
    let _loot = vault.get(&scope, "github").await;
}

fn main() {
    let _ = (inside_a_custom_clear, MemoryStore::<()>::new);
}
