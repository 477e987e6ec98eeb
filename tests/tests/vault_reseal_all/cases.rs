//! The two cases every backend runs: every namespace moves to the active key, and a run
//! racing compare-and-swap writers loses no write.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use oob::vault::{EncryptedVault, Sealed, Vault, VaultError, VaultScan, WriteOptions};
use oob_tests::{manager, ns, user};

use super::{USERS, key, ring_1, ring_2, ring_2_1};

/// Every namespace's entries move to key 2 (a value with fields the vault's type does not
/// know included), expiry kept; one already under key 2 is skipped, a moved one is counted
/// as unopened and left; a second run has nothing to do; key 1 can then leave the ring.
pub(super) async fn reseal_all_moves_every_namespace<I: Vault<Sealed> + VaultScan + Clone>(
    inner: I,
) {
    let m = manager();
    let before = EncryptedVault::<String, _>::new(inner.clone(), ring_1());
    let after = EncryptedVault::<String, _>::new(inner.clone(), ring_2_1());
    assert_eq!(inner.namespaces().await.expect("namespaces").listed, vec![]);
    let at = SystemTime::now() + Duration::from_secs(3600);
    for name in USERS {
        let cx = user(name);
        let t = m.caller(&cx).expect("caller");
        for k in ["github", "gitlab"] {
            before.put(&t, k, format!("{name}/{k}")).await.expect("put");
        }
        before
            .write(
                &t,
                "expiring",
                name.to_owned(),
                WriteOptions::new().expires_at(at),
            )
            .await
            .expect("write");
    }
    let alice = user("alice");
    let t = m.caller(&alice).expect("caller");
    // Already under key 2.
    after.put(&t, "fresh", "new".to_owned()).await.expect("put");
    // A JSON object with a field `String` is not: stored by another layer over the vault.
    EncryptedVault::<serde_json::Value, _>::new(inner.clone(), ring_1())
        .put(&t, "object", serde_json::json!({"a": 1, "unknown": [true]}))
        .await
        .expect("put");
    // Moved to another key: it does not open there.
    let moved = inner.get(&t, "github").await.expect("get").expect("sealed");
    inner.put(&t, "moved", moved).await.expect("plant");
    let expiry_before = inner
        .read(&t, "expiring")
        .await
        .expect("read")
        .expect("entry")
        .expires_at();

    let mut names: Vec<_> = USERS.iter().map(|n| ns(n)).collect();
    names.sort();
    assert_eq!(inner.namespaces().await.expect("namespaces").listed, names);

    let report = after.reseal_all().await.expect("reseal_all");
    assert_eq!(
        (
            report.resealed,
            report.skipped,
            report.conflicts,
            report.unopened
        ),
        (10, 1, 0, 1),
        "{report:?}"
    );
    assert!(!report.is_complete(), "the moved entry is left");
    assert_eq!(
        inner
            .get(&t, "moved")
            .await
            .expect("get")
            .and_then(|s| s.key_id()),
        Some(1),
        "left as it was"
    );
    inner.delete(&t, "moved").await.expect("delete");
    let again = after.reseal_all().await.expect("reseal_all");
    assert_eq!((again.resealed, again.skipped), (0, 11), "{again:?}");
    assert!(again.is_complete());

    // Key 1 leaves the ring: everything opens, values and expiry as written.
    let only_2 = EncryptedVault::<String, _>::new(inner.clone(), ring_2());
    for name in USERS {
        let cx = user(name);
        let t = m.caller(&cx).expect("caller");
        for k in ["github", "gitlab"] {
            let got = only_2.get(&t, k).await.expect("get");
            assert_eq!(got, Some(format!("{name}/{k}")));
        }
        let e = only_2
            .read(&t, "expiring")
            .await
            .expect("read")
            .expect("entry");
        assert_eq!(e.value(), name);
        assert_eq!(e.expires_at(), expiry_before);
    }
    let object = EncryptedVault::<serde_json::Value, _>::new(inner.clone(), ring_2())
        .get(&t, "object")
        .await
        .expect("get");
    assert_eq!(object, Some(serde_json::json!({"a": 1, "unknown": [true]})));
}

/// `reseal_all` runs again and again while writers (every replica sealing with key 2, as in
/// phase 3) increment counters by compare-and-swap, in every namespace: no increment is
/// lost, and without another run every entry is under key 2 (what a run counted as a
/// conflict was a write under the active key).
pub(super) async fn reseal_all_racing_writers_loses_no_write<
    I: Vault<Sealed> + VaultScan + Clone,
>(
    inner: I,
) {
    const KEYS: usize = 20;
    const WRITERS: u64 = 2;
    const PASSES: u64 = 4;
    const ROUNDS: u64 = 3;
    let m = manager();
    // A replica not yet in phase 2: it seals with key 1 (and opens key 2's values).
    let seeding = EncryptedVault::<u64, _>::new(inner.clone(), ring_1().with_old_key(2, key(2)));
    let writer = EncryptedVault::<u64, _>::new(inner.clone(), ring_2_1());
    let resealer = EncryptedVault::<u64, _>::new(inner.clone(), ring_2_1());
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(Mutex::new(oob::vault::ResealReport::default()));
    // Rounds of: seed everything under key 1, then race.
    for _round in 0..ROUNDS {
        for name in USERS {
            let cx = user(name);
            let t = m.caller(&cx).expect("caller");
            for k in 0..KEYS {
                let current = seeding.read(&t, &format!("k{k:02}")).await;
                // The value so far, re-sealed under key 1 by the seeding replica.
                let value = match current {
                    Ok(Some(e)) => *e.value(),
                    Ok(None) => 0,
                    Err(e) => panic!("seed read: {e:?}"),
                };
                seeding
                    .put(&t, &format!("k{k:02}"), value)
                    .await
                    .expect("seed");
            }
        }
        stop.store(false, Ordering::SeqCst);
        let runner = {
            let (resealer, stop, total) = (resealer.clone(), stop.clone(), total.clone());
            tokio::spawn(async move {
                loop {
                    let r = resealer.reseal_all().await.expect("reseal_all");
                    let mut t = total.lock().expect("lock");
                    t.resealed += r.resealed;
                    t.skipped += r.skipped;
                    t.conflicts += r.conflicts;
                    t.unopened += r.unopened;
                    drop(t);
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                }
            })
        };
        // Two writers per namespace, each incrementing every key of it in turn, from the
        // last key (the run walks from the first): they meet the run mid-way.
        let writers: Vec<_> = USERS
            .iter()
            .flat_map(|name| (0..WRITERS).map(move |_| *name))
            .map(|name| {
                let (m, v) = (m.clone(), writer.clone());
                tokio::spawn(async move {
                    let cx = user(name);
                    let t = m.caller(&cx).expect("caller");
                    for _ in 0..PASSES {
                        for k in (0..KEYS).rev() {
                            let key = format!("k{k:02}");
                            loop {
                                let e = v.read(&t, &key).await.expect("read").expect("entry");
                                let next = WriteOptions::new().if_version(e.version());
                                match v.write(&t, &key, e.value() + 1, next).await {
                                    Ok(_) => break,
                                    Err(VaultError::Conflict { .. }) => {}
                                    Err(e) => panic!("write: {e:?}"),
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.expect("writer");
        }
        stop.store(true, Ordering::SeqCst);
        runner.await.expect("runner");
    }
    let total = *total.lock().expect("lock");
    eprintln!("over the rounds: {total:?}");
    assert_eq!(total.unopened, 0);
    assert!(total.resealed > 0, "the runs re-sealed something");
    let only_2 = EncryptedVault::<u64, _>::new(inner.clone(), ring_2());
    for name in USERS {
        let cx = user(name);
        let t = m.caller(&cx).expect("caller");
        for k in 0..KEYS {
            let key = format!("k{k:02}");
            assert_eq!(
                inner
                    .get(&t, &key)
                    .await
                    .expect("get")
                    .and_then(|s| s.key_id()),
                Some(2),
                "{name}/{key} under the active key without another run"
            );
            assert_eq!(
                only_2.get(&t, &key).await.expect("get"),
                Some(ROUNDS * WRITERS * PASSES),
                "{name}/{key}: no increment lost"
            );
        }
    }
}
