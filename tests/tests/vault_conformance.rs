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

mod postgres {
    use oob::vault::PostgresVault;
    use oob_tests::conformance::ManualClock;
    use oob_tests::postgres_server::{fresh_schema, shared};

    async fn make(clock: ManualClock) -> PostgresVault<String> {
        let Some(server) = shared() else {
            // No Postgres and not in CI: nothing here can run.
            std::process::exit(0);
        };
        let vault = PostgresVault::new(server.pool(4).await, &fresh_schema())
            .expect("schema name")
            .with_clock(clock);
        vault.migrate().await.expect("migrate");
        vault
    }
    oob_tests::vault_conformance!(make);
}

mod encrypted_postgres {
    use oob::vault::{EncryptedVault, KeyRing, PostgresVault, Sealed, VaultKey};
    use oob_tests::conformance::ManualClock;
    use oob_tests::postgres_server::{fresh_schema, shared};

    async fn make(clock: ManualClock) -> EncryptedVault<String, PostgresVault<Sealed>> {
        let Some(server) = shared() else {
            std::process::exit(0);
        };
        let inner = PostgresVault::new(server.pool(4).await, &fresh_schema())
            .expect("schema name")
            .with_clock(clock);
        inner.migrate().await.expect("migrate");
        EncryptedVault::new(inner, KeyRing::new(3, VaultKey::generate().expect("key")))
    }
    oob_tests::vault_conformance!(make);
}

mod redis {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use oob::vault::RedisVault;
    use oob_tests::conformance::ManualClock;
    use oob_tests::redis_server::RedisServer;

    static SERVER: OnceLock<Option<RedisServer>> = OnceLock::new();
    static SEQ: AtomicUsize = AtomicUsize::new(0);

    /// A vault with a prefix of its own on the binary's one `redis-server`.
    pub(crate) async fn vault<V>(clock: ManualClock) -> RedisVault<V> {
        let Some(server) = SERVER.get_or_init(RedisServer::start) else {
            // No redis-server and not in CI: nothing here can run.
            std::process::exit(0);
        };
        let client = ::redis::Client::open(server.url()).expect("client");
        RedisVault::connect(client)
            .await
            .expect("connect")
            .with_prefix(&format!("{{v{}}}:", SEQ.fetch_add(1, Ordering::SeqCst)))
            .with_clock(clock)
    }

    async fn make(clock: ManualClock) -> RedisVault<String> {
        vault(clock).await
    }
    oob_tests::vault_conformance!(make);
}

mod encrypted_redis {
    use oob::vault::{EncryptedVault, KeyRing, RedisVault, Sealed, VaultKey};
    use oob_tests::conformance::ManualClock;

    async fn make(clock: ManualClock) -> EncryptedVault<String, RedisVault<Sealed>> {
        let inner = super::redis::vault(clock).await;
        EncryptedVault::new(inner, KeyRing::new(4, VaultKey::generate().expect("key")))
    }
    oob_tests::vault_conformance!(make);
}
