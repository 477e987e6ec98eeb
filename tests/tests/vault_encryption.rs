//! The encryption layer: what it stores is ciphertext bound to its namespace and key, a
//! tampered, moved or foreign value does not open, and keys rotate.

use oob::vault::{
    EncryptedVault, KeyRing, MemoryVault, Sealed, SqliteVault, Vault, VaultError, VaultKey,
    WriteOptions,
};
use oob_tests::{manager, user};

const SECRET: &str = "gho_CANARY_SECRET_0f9e";

fn ring(id: u32, byte: u8) -> KeyRing {
    KeyRing::new(id, VaultKey::from_bytes([byte; 32]))
}

fn is_sealing(r: &Result<Option<String>, VaultError>) -> bool {
    matches!(r, Err(VaultError::Sealing(_)))
}

#[tokio::test]
async fn what_the_inner_vault_holds_is_ciphertext_that_opens_only_through_the_layer() {
    let m = manager();
    let alice = user("alice");
    let t = m.caller(&alice).expect("caller");
    let inner = SqliteVault::<Sealed>::open_in_memory().expect("open");
    let vault = EncryptedVault::<String, _>::new(inner.clone(), ring(1, 7));
    vault
        .put(&t, "github", SECRET.to_owned())
        .await
        .expect("put");
    let stored = inner.get(&t, "github").await.expect("get").expect("stored");
    assert_eq!(stored.key_id(), Some(1));
    let bytes = String::from_utf8_lossy(stored.as_bytes()).into_owned();
    assert!(!bytes.contains(SECRET), "plaintext at rest");
    // The same value sealed twice differs (a fresh nonce each time).
    vault
        .put(&t, "github", SECRET.to_owned())
        .await
        .expect("put");
    let again = inner.get(&t, "github").await.expect("get").expect("stored");
    assert_ne!(stored, again);
    assert_eq!(
        vault.get(&t, "github").await.expect("get").as_deref(),
        Some(SECRET)
    );
    // No key material in Debug.
    let shown = format!("{vault:?} {:?}", VaultKey::from_bytes([7; 32]));
    assert!(
        !shown.contains("7, 7") && !shown.contains("0707"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_tampered_value_does_not_open() {
    let m = manager();
    let alice = user("alice");
    let t = m.caller(&alice).expect("caller");
    let inner = MemoryVault::<Sealed>::new();
    let vault = EncryptedVault::<String, _>::new(inner.clone(), ring(1, 7));
    vault.put(&t, "k", SECRET.to_owned()).await.expect("put");
    let sealed = inner.get(&t, "k").await.expect("get").expect("stored");
    for at in [0, 3, 10, 29, 30, sealed.as_bytes().len() - 1] {
        let mut bytes = sealed.as_bytes().to_vec();
        bytes[at] ^= 0x01;
        inner
            .put(&t, "k", Sealed::from_bytes(bytes))
            .await
            .expect("plant");
        let r: Result<Option<String>, _> = vault.get(&t, "k").await;
        assert!(is_sealing(&r), "byte {at} flipped: {r:?}");
    }
    // Truncated and empty values are refused too, not a panic.
    for bytes in [vec![], vec![1], sealed.as_bytes()[..20].to_vec()] {
        inner
            .put(&t, "k", Sealed::from_bytes(bytes))
            .await
            .expect("plant");
        assert!(is_sealing(&vault.get(&t, "k").await));
    }
}

#[tokio::test]
async fn a_value_moved_to_another_namespace_or_key_does_not_open() {
    let m = manager();
    let (alice, bob) = (user("alice"), user("bob"));
    let (a, b) = (m.caller(&alice).expect("a"), m.caller(&bob).expect("b"));
    let inner = SqliteVault::<Sealed>::open_in_memory().expect("open");
    let vault = EncryptedVault::<String, _>::new(inner.clone(), ring(1, 7));
    vault
        .put(&a, "github", SECRET.to_owned())
        .await
        .expect("put");
    let sealed = inner.get(&a, "github").await.expect("get").expect("stored");
    // Copied into bob's row (a swapped row in a stolen database file).
    inner.put(&b, "github", sealed.clone()).await.expect("swap");
    assert!(is_sealing(&vault.get(&b, "github").await));
    // Copied to another key of alice's.
    inner.put(&a, "gitlab", sealed).await.expect("move");
    assert!(is_sealing(&vault.get(&a, "gitlab").await));
    // The original still opens.
    assert_eq!(
        vault.get(&a, "github").await.expect("get").as_deref(),
        Some(SECRET)
    );
}

#[tokio::test]
async fn the_wrong_key_or_an_unknown_key_id_does_not_open() {
    let m = manager();
    let alice = user("alice");
    let t = m.caller(&alice).expect("caller");
    let inner = MemoryVault::<Sealed>::new();
    EncryptedVault::<String, _>::new(inner.clone(), ring(1, 7))
        .put(&t, "k", SECRET.to_owned())
        .await
        .expect("put");
    // Same id, other bytes: authentication fails.
    let other = EncryptedVault::<String, _>::new(inner.clone(), ring(1, 8));
    assert!(is_sealing(&other.get(&t, "k").await));
    // A ring without key 1 says which key is missing.
    let foreign = EncryptedVault::<String, _>::new(inner.clone(), ring(2, 7));
    match foreign.get(&t, "k").await {
        Err(VaultError::Sealing(e)) => assert!(e.to_string().contains("key 1"), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn rotation_keeps_old_values_readable_and_reseals_on_write() {
    let m = manager();
    let alice = user("alice");
    let t = m.caller(&alice).expect("caller");
    let inner = SqliteVault::<Sealed>::open_in_memory().expect("open");
    let v1 = EncryptedVault::<String, _>::new(inner.clone(), ring(1, 7));
    v1.put(&t, "a", "old-a".to_owned()).await.expect("put");
    v1.put(&t, "b", "old-b".to_owned()).await.expect("put");
    let at = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
    v1.write(
        &t,
        "c",
        "old-c".to_owned(),
        WriteOptions::new().expires_at(at),
    )
    .await
    .expect("write");

    // Rotate: key 2 active, key 1 kept to open what it sealed.
    let rotated = KeyRing::new(2, VaultKey::from_bytes([9; 32]))
        .with_old_key(1, VaultKey::from_bytes([7; 32]));
    let v2 = EncryptedVault::<String, _>::new(inner.clone(), rotated);
    assert_eq!(
        v2.get(&t, "a").await.expect("get").as_deref(),
        Some("old-a")
    );
    // A write seals under the active key.
    v2.put(&t, "a", "new-a".to_owned()).await.expect("put");
    let key_of = |k: &'static str| {
        let (inner, t) = (&inner, &t);
        async move { inner.get(t, k).await.expect("get").and_then(|s| s.key_id()) }
    };
    assert_eq!(key_of("a").await, Some(2));
    assert_eq!(key_of("b").await, Some(1));
    // reseal moves the rest, keeping expiry, and does nothing twice.
    assert!(v2.reseal(&t, "b").await.expect("reseal"));
    assert!(v2.reseal(&t, "c").await.expect("reseal"));
    assert!(!v2.reseal(&t, "c").await.expect("reseal again"));
    assert_eq!(key_of("b").await, Some(2));
    let c = v2.read(&t, "c").await.expect("read").expect("c");
    assert_eq!(c.value(), "old-c");
    assert!(c.expires_at().is_some());

    // Key 1 can now leave the ring; everything still opens.
    let only_new = EncryptedVault::<String, _>::new(inner.clone(), ring(2, 9));
    for (k, v) in [("a", "new-a"), ("b", "old-b"), ("c", "old-c")] {
        assert_eq!(only_new.get(&t, k).await.expect("get").as_deref(), Some(v));
    }
}

/// A re-seal seals the stored bytes again: fields the resealing vault's type does not know
/// (written by a newer replica, or another layer over the same inner vault) are kept.
#[tokio::test]
async fn reseal_keeps_fields_its_type_does_not_know() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct New {
        access: String,
        #[serde(default)]
        id_token: Option<String>,
    }
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Old {
        access: String,
    }
    let m = manager();
    let alice = user("alice");
    let t = m.caller(&alice).expect("caller");
    let inner = MemoryVault::<Sealed>::new();
    let newer = EncryptedVault::<New, _>::new(inner.clone(), ring(1, 7));
    let value = New {
        access: "a".to_owned(),
        id_token: Some(SECRET.to_owned()),
    };
    newer.put(&t, "grant", value).await.expect("put");
    let rotated = KeyRing::new(2, VaultKey::from_bytes([9; 32]))
        .with_old_key(1, VaultKey::from_bytes([7; 32]));
    let older = EncryptedVault::<Old, _>::new(inner.clone(), rotated.clone());
    assert!(older.reseal(&t, "grant").await.expect("reseal"));
    let stored = inner.get(&t, "grant").await.expect("get").expect("stored");
    assert_eq!(stored.key_id(), Some(2));
    let back = EncryptedVault::<New, _>::new(inner, rotated)
        .get(&t, "grant")
        .await
        .expect("get");
    assert_eq!(back.and_then(|v| v.id_token).as_deref(), Some(SECRET));
}

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

/// The rotation as documented, over three replicas sharing one vault: (1) the new key is
/// added to every replica as an old key, one replica at a time; (2) it becomes active, one
/// replica at a time; (3) `reseal_all`, then the old key leaves every ring. After every
/// single replica's change, every replica writes, and every replica reads everything.
#[tokio::test]
async fn the_three_phase_rotation_keeps_every_replica_reading_at_every_step() {
    let m = manager();
    let alice = user("alice");
    let t = m.caller(&alice).expect("caller");
    let inner = SqliteVault::<Sealed>::open_in_memory().expect("open");
    let k = |b: u8| VaultKey::from_bytes([b; 32]);
    let before = || KeyRing::new(1, k(1));
    let phase_1 = || KeyRing::new(1, k(1)).with_old_key(2, k(2));
    let phase_2 = || KeyRing::new(2, k(2)).with_old_key(1, k(1));
    let after = || KeyRing::new(2, k(2));
    let mut rings = vec![before(), before(), before()];
    let mut steps = vec![rings.clone()];
    for next in [phase_1(), phase_2()] {
        for i in 0..rings.len() {
            rings[i] = next.clone();
            steps.push(rings.clone());
        }
    }
    let mut written = 0;
    for (step, rings) in steps.iter().enumerate() {
        let replicas: Vec<_> = rings
            .iter()
            .map(|r| EncryptedVault::<String, _>::new(inner.clone(), r.clone()))
            .collect();
        for (i, replica) in replicas.iter().enumerate() {
            replica
                .put(&t, &format!("r{i}"), format!("step {step}"))
                .await
                .expect("put");
            written = written.max(i + 1);
        }
        for (j, reader) in replicas.iter().enumerate() {
            for i in 0..written {
                let got = reader.get(&t, &format!("r{i}")).await;
                assert_eq!(
                    got.as_ref().ok().cloned().flatten().as_deref(),
                    Some(format!("step {step}").as_str()),
                    "step {step}: replica {j} reads r{i}: {got:?}"
                );
            }
        }
    }
    // Phase 3: every replica seals with key 2; re-seal what key 1 sealed, then drop key 1.
    let resealer = EncryptedVault::<String, _>::new(inner.clone(), phase_2());
    let report = resealer.reseal_all().await.expect("reseal_all");
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(resealer.reseal_all().await.expect("again").resealed, 0);
    let done = EncryptedVault::<String, _>::new(inner.clone(), after());
    for i in 0..3 {
        assert!(done.get(&t, &format!("r{i}")).await.expect("get").is_some());
    }
}

/// The documented rollout in one step (a replica activates the new key before every replica
/// knows it) is what the phases avoid: a replica not yet updated cannot open what an updated
/// one wrote.
#[tokio::test]
async fn activating_a_key_other_replicas_do_not_know_breaks_their_reads() {
    let m = manager();
    let alice = user("alice");
    let t = m.caller(&alice).expect("caller");
    let inner = MemoryVault::<Sealed>::new();
    let not_updated = EncryptedVault::<String, _>::new(inner.clone(), ring(1, 7));
    let updated = EncryptedVault::<String, _>::new(
        inner,
        KeyRing::new(2, VaultKey::from_bytes([9; 32]))
            .with_old_key(1, VaultKey::from_bytes([7; 32])),
    );
    updated
        .put(&t, "github", SECRET.to_owned())
        .await
        .expect("put");
    match not_updated.get(&t, "github").await {
        Err(VaultError::Sealing(e)) => assert!(e.to_string().contains("key 2"), "{e}"),
        other => panic!("{other:?}"),
    }
}

/// A re-seal is a write: the version changes, so a writer's compare-and-swap on the
/// version it read before (an OAuth refresh's final write) gets a conflict.
#[tokio::test]
async fn reseal_changes_the_version_so_a_concurrent_compare_and_swap_conflicts() {
    let m = manager();
    let alice = user("alice");
    let t = m.caller(&alice).expect("caller");
    let inner = MemoryVault::<Sealed>::new();
    let replica = EncryptedVault::<String, _>::new(inner.clone(), ring(1, 7));
    let resealer = EncryptedVault::<String, _>::new(
        inner,
        KeyRing::new(2, VaultKey::from_bytes([9; 32]))
            .with_old_key(1, VaultKey::from_bytes([7; 32])),
    );
    let leased = replica
        .write(&t, "oauth", "refresh-1".to_owned(), WriteOptions::new())
        .await
        .expect("write");
    assert!(resealer.reseal(&t, "oauth").await.expect("reseal"));
    let fresh = replica
        .write(
            &t,
            "oauth",
            "refresh-2".to_owned(),
            WriteOptions::new().if_version(leased),
        )
        .await;
    assert!(
        matches!(fresh, Err(VaultError::Conflict { .. })),
        "{fresh:?}"
    );
    assert_eq!(
        resealer.get(&t, "oauth").await.expect("get").as_deref(),
        Some("refresh-1")
    );
}
