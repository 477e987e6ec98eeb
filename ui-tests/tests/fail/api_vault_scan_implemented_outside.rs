// `VaultScan` is sealed: a vault written outside `oob` could list any namespace (one
// parsed from text) and `EncryptedVault::reseal_all` would then hand it that namespace's
// capability.
use oob::vault::{VaultError, VaultScan};
use oob::Namespace;

struct Forger;

impl VaultScan for Forger {
    async fn namespaces(&self) -> Result<Vec<Namespace>, VaultError> {
        Ok(vec![Namespace::new("victim@example.com").unwrap()])
    }
}

fn main() {}
