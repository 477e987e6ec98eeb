//! What the layer stores is ciphertext, and what was tampered with, moved, or sealed under
//! another key does not open.

use oob::vault::{EncryptedVault, MemoryVault, Sealed, SqliteVault, Vault, VaultError, VaultKey};
use oob_tests::{manager, user};

use super::{SECRET, is_sealing, ring};

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
