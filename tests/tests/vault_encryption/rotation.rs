//! Key rotation: old values stay readable, writes and re-seals move to the active key, the
//! documented three phases keep every replica reading, and a re-seal is a write.

use oob::vault::{
    EncryptedVault, KeyRing, MemoryVault, Sealed, SqliteVault, Vault, VaultError, VaultKey,
    WriteOptions,
};
use oob_tests::{manager, user};

use super::{SECRET, ring};

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
