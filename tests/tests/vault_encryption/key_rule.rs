//! The layer checks the key rule itself, whatever the inner vault checks.

use oob::vault::{EncryptedVault, MemoryVault, Sealed, Vault, VaultError, WriteOptions};
use oob_tests::{manager, user};

use super::{SECRET, ring};

/// An inner vault written elsewhere that checks no key: it records every call.
#[derive(Clone, Default)]
struct Lax {
    calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    inner: MemoryVault<Sealed>,
}

impl Lax {
    fn called(&self) {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Vault<Sealed> for Lax {
    async fn write(
        &self,
        token: &dyn oob::Capability,
        key: &str,
        value: Sealed,
        options: WriteOptions,
    ) -> Result<oob::vault::Version, VaultError> {
        self.called();
        let _ = (key, value, options);
        // Any version will do: one from a stand-in entry (this vault checks no key).
        let stand_in = Sealed::from_bytes(vec![]);
        self.inner
            .write(token, "stand-in", stand_in, WriteOptions::new())
            .await
    }

    async fn read(
        &self,
        _token: &dyn oob::Capability,
        _key: &str,
    ) -> Result<Option<oob::vault::Entry<Sealed>>, VaultError> {
        self.called();
        Ok(None)
    }

    async fn delete(&self, _token: &dyn oob::Capability, _key: &str) -> Result<bool, VaultError> {
        self.called();
        Ok(false)
    }

    async fn keys(&self, _token: &dyn oob::Capability) -> Result<Vec<String>, VaultError> {
        self.called();
        Ok(vec![])
    }
}

/// The layer checks the key rule itself, before sealing: over an inner vault that checks
/// nothing, a bad key is still refused and the inner vault is never called.
#[tokio::test]
async fn the_layer_checks_the_key_rule_over_any_inner_vault() {
    let m = manager();
    let alice = user("alice");
    let t = m.caller(&alice).expect("caller");
    let lax = Lax::default();
    let vault = EncryptedVault::<String, _>::new(lax.clone(), ring(1, 7));
    for bad in [String::new(), "a\nb".to_owned(), "k".repeat(10_000)] {
        let w = vault
            .write(&t, &bad, SECRET.to_owned(), WriteOptions::new())
            .await;
        assert!(matches!(w, Err(VaultError::Key(_))), "{w:?}");
        let r = vault.reseal(&t, &bad).await;
        assert!(matches!(r, Err(VaultError::Key(_))), "{r:?}");
    }
    assert_eq!(lax.calls.load(std::sync::atomic::Ordering::SeqCst), 0);
}
