//! Conformance cases: an expired entry reads as absent everywhere, a far expiry is kept and
//! an expiry of now ends the entry at once.

use std::time::Duration;

use oob::vault::{Vault, WriteOptions};

use super::manager;
use crate::conformance::ManualClock;
use crate::user;

/// An entry past its expiry reads as absent everywhere, also for compare-and-swap.
pub async fn expired_entries_read_as_absent<V: Vault<String>>(vault: V, clock: ManualClock) {
    let m = manager();
    let alice = user("alice");
    let t = m.caller(&alice).expect("caller");
    let at = clock.now_system() + Duration::from_millis(1_500);
    let opts = WriteOptions::new().expires_at(at);
    vault
        .write(&t, "access", "at_1".into(), opts)
        .await
        .expect("write");
    let e = vault.read(&t, "access").await.expect("read").expect("live");
    let stored = e.expires_at().expect("expiry");
    let skew = stored
        .duration_since(at)
        .or_else(|e| Ok::<_, ()>(e.duration()))
        .unwrap_or_default();
    assert!(
        skew < Duration::from_millis(1),
        "expiry kept to the millisecond"
    );
    clock.advance(Duration::from_millis(1_400));
    assert!(vault.read(&t, "access").await.expect("read").is_some());
    clock.advance(Duration::from_millis(100));
    assert!(vault.read(&t, "access").await.expect("read").is_none());
    assert_eq!(vault.get(&t, "access").await.expect("get"), None);
    assert!(!vault.delete(&t, "access").await.expect("delete"));
    // Expired counts as absent for a conditional write.
    vault
        .write(&t, "access", "at_2".into(), WriteOptions::new().if_absent())
        .await
        .expect("if_absent over an expired entry");
    assert_eq!(
        vault.get(&t, "access").await.expect("get").as_deref(),
        Some("at_2")
    );
}

/// An expiry far in the future (here about 317 million years) is written, read and listed
/// like any other, never a half-done write; an expiry of now ends the entry at once (what the
/// OAuth refresh writes to end a grant under a compare-and-swap).
pub async fn extreme_expiries_are_kept_or_end_at_once<V: Vault<String>>(
    vault: V,
    clock: ManualClock,
) {
    let m = manager();
    let alice = user("alice");
    let t = m.caller(&alice).expect("caller");
    let far = std::time::UNIX_EPOCH + Duration::from_secs(10_000_000_000_000_000);
    let v = vault
        .write(
            &t,
            "far",
            "kept".into(),
            WriteOptions::new().expires_at(far),
        )
        .await
        .expect("a far expiry is written");
    let e = vault.read(&t, "far").await.expect("read").expect("live");
    assert_eq!((e.value().as_str(), e.version()), ("kept", v));
    assert!(e.expires_at().is_some_and(|at| at > clock.now_system()));
    assert_eq!(vault.keys(&t).await.expect("keys"), vec!["far".to_owned()]);
    let now = WriteOptions::new()
        .if_version(v)
        .expires_at(clock.now_system());
    vault
        .write(&t, "far", "ended".into(), now)
        .await
        .expect("ended under a compare-and-swap");
    assert_eq!(vault.get(&t, "far").await.expect("get"), None);
    assert!(vault.keys(&t).await.expect("keys").is_empty());
    // Ended is removed, not kept until a purge: no copy of the value stays behind, and a
    // clock stepped back does not bring it back.
    clock.back(Duration::from_secs(5));
    assert_eq!(vault.get(&t, "far").await.expect("get"), None);
    assert!(vault.keys(&t).await.expect("keys").is_empty());
    clock.advance(Duration::from_secs(5));
}
