//! Conformance cases: compare-and-swap on the version and on absence, and concurrent
//! refreshers of which exactly one wins each round.

use oob::vault::{Vault, VaultError, WriteOptions};

use super::manager;
use crate::conformance::ManualClock;
use crate::user;

/// A write conditioned on a stale version fails with the current one and changes nothing.
pub async fn compare_and_swap_on_the_version<V: Vault<String>>(vault: V, _clock: ManualClock) {
    let m = manager();
    let alice = user("alice");
    let t = m.caller(&alice).expect("caller");
    let v1 = vault
        .write(&t, "k", "one".into(), WriteOptions::new())
        .await
        .expect("write");
    let v2 = vault
        .write(&t, "k", "two".into(), WriteOptions::new().if_version(v1))
        .await
        .expect("cas on the current version");
    match vault
        .write(&t, "k", "stale".into(), WriteOptions::new().if_version(v1))
        .await
    {
        Err(VaultError::Conflict { current }) => assert_eq!(current, Some(v2)),
        other => panic!("a stale compare-and-swap must conflict: {other:?}"),
    }
    assert_eq!(
        vault.get(&t, "k").await.expect("get").as_deref(),
        Some("two")
    );
    vault.delete(&t, "k").await.expect("delete");
    match vault
        .write(&t, "k", "gone".into(), WriteOptions::new().if_version(v2))
        .await
    {
        Err(VaultError::Conflict { current: None }) => {}
        other => panic!("a compare-and-swap on a deleted entry must conflict: {other:?}"),
    }
    assert_eq!(vault.get(&t, "k").await.expect("get"), None);
}

/// `if_absent` writes only where there is no live entry.
pub async fn compare_and_swap_if_absent<V: Vault<String>>(vault: V, _clock: ManualClock) {
    let m = manager();
    let alice = user("alice");
    let t = m.caller(&alice).expect("caller");
    let v = vault
        .write(&t, "k", "first".into(), WriteOptions::new().if_absent())
        .await
        .expect("absent");
    match vault
        .write(&t, "k", "second".into(), WriteOptions::new().if_absent())
        .await
    {
        Err(VaultError::Conflict { current }) => assert_eq!(current, Some(v)),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        vault.get(&t, "k").await.expect("get").as_deref(),
        Some("first")
    );
}

/// Many concurrent refreshers, each reading then writing on the version it read: in every
/// round exactly one wins, and the value is the winner's.
pub async fn concurrent_refreshes_lose_no_write<V>(vault: V, _clock: ManualClock)
where
    V: Vault<String> + Clone,
{
    let m = manager();
    let alice = user("alice");
    let t = m.caller(&alice).expect("caller");
    vault.put(&t, "token", "r0".into()).await.expect("put");
    for round in 1..=20 {
        let read = vault.read(&t, "token").await.expect("read").expect("entry");
        let tasks: Vec<_> = (0..8)
            .map(|task| {
                let (vault, m, version) = (vault.clone(), m.clone(), read.version());
                tokio::spawn(async move {
                    let alice = user("alice");
                    let t = m.caller(&alice).expect("caller");
                    let value = format!("r{round}-{task}");
                    let w = vault
                        .write(
                            &t,
                            "token",
                            value.clone(),
                            WriteOptions::new().if_version(version),
                        )
                        .await;
                    (value, w)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for h in tasks {
            match h.await.expect("join") {
                (value, Ok(_)) => winners.push(value),
                (_, Err(VaultError::Conflict { current: Some(_) })) => {}
                (_, Err(e)) => panic!("round {round}: {e:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        assert_eq!(
            vault.get(&t, "token").await.expect("get").as_ref(),
            Some(&winners[0])
        );
    }
}
