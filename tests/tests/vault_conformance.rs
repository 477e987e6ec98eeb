//! The vault conformance suite against every vault: memory and SQLite, each plain and under
//! the encryption layer.

mod memory {
    use oob::vault::MemoryVault;
    use oob_tests::conformance::ManualClock;

    async fn make(clock: ManualClock) -> MemoryVault<String> {
        MemoryVault::new().with_clock(clock)
    }
    oob_tests::vault_conformance!(make);
}

mod sqlite {
    use oob::vault::SqliteVault;
    use oob_tests::conformance::ManualClock;

    async fn make(clock: ManualClock) -> SqliteVault<String> {
        SqliteVault::open_in_memory()
            .expect("open")
            .with_clock(clock)
    }
    oob_tests::vault_conformance!(make);
}

mod encrypted_memory {
    use oob::vault::{EncryptedVault, KeyRing, MemoryVault, Sealed, VaultKey};
    use oob_tests::conformance::ManualClock;

    async fn make(clock: ManualClock) -> EncryptedVault<String, MemoryVault<Sealed>> {
        let ring = KeyRing::new(1, VaultKey::generate().expect("key"));
        EncryptedVault::new(MemoryVault::new().with_clock(clock), ring)
    }
    oob_tests::vault_conformance!(make);
}

mod encrypted_sqlite {
    use oob::vault::{EncryptedVault, KeyRing, Sealed, SqliteVault, VaultKey};
    use oob_tests::conformance::ManualClock;

    async fn make(clock: ManualClock) -> EncryptedVault<String, SqliteVault<Sealed>> {
        let ring = KeyRing::new(7, VaultKey::generate().expect("key"));
        let inner = SqliteVault::open_in_memory()
            .expect("open")
            .with_clock(clock);
        EncryptedVault::new(inner, ring)
    }
    oob_tests::vault_conformance!(make);
}
