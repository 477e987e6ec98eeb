// `VaultScan` is sealed: a vault written outside `oob` could list any namespace (one
// parsed from text) and `EncryptedVault::reseal_all` would then hand it that namespace's
// capability.
use oob::vault::{Namespaces, VaultError, VaultScan};
use oob::Namespace;

struct Forger;

impl VaultScan for Forger {
    async fn namespaces(&self) -> Result<Namespaces, VaultError> {
        let mut found = Namespaces::default();
        found.listed.push(Namespace::new("victim@example.com").unwrap());
        Ok(found)
    }
}

fn main() {}
