//! Conformance cases: a value written reads back with its metadata, every write changes the
//! version, a delete says whether there was one.

use std::collections::HashSet;
use std::time::Duration;

use oob::vault::{Vault, WriteOptions};

use super::manager;
use crate::conformance::ManualClock;
use crate::user;

/// A value written and read back, with when it was written, no expiry and a version.
pub async fn write_then_read_round_trips_with_metadata<V>(vault: V, clock: ManualClock)
where
    V: Vault<String>,
{
    let m = manager();
    let alice = user("alice");
    let t = m.caller(&alice).expect("caller");
    let before = clock.now_system();
    let v = vault
        .write(&t, "github", "gho_1".into(), WriteOptions::new())
        .await
        .expect("write");
    let e = vault
        .read(&t, "github")
        .await
        .expect("read")
        .expect("entry");
    assert_eq!(e.value(), "gho_1");
    assert_eq!(e.version(), v);
    assert_eq!(e.expires_at(), None);
    let written = e.written_at();
    assert!(
        written >= before - Duration::from_millis(1) && written <= before + Duration::from_secs(1),
        "written_at {written:?} is the vault clock's time {before:?}"
    );
    assert_eq!(
        vault.get(&t, "github").await.expect("get").as_deref(),
        Some("gho_1")
    );
    assert_eq!(vault.get(&t, "other").await.expect("get"), None);
}

/// Versions differ after every write of the key.
pub async fn every_write_changes_the_version<V: Vault<String>>(vault: V, _clock: ManualClock) {
    let m = manager();
    let alice = user("alice");
    let t = m.caller(&alice).expect("caller");
    let mut seen = HashSet::new();
    for i in 0..20 {
        let v = vault
            .write(&t, "k", format!("v{i}"), WriteOptions::new())
            .await
            .expect("write");
        assert!(seen.insert(v), "version {v:?} reused");
        let e = vault.read(&t, "k").await.expect("read").expect("entry");
        assert_eq!(e.version(), v);
        assert_eq!(e.value(), &format!("v{i}"));
    }
}

/// Delete removes the entry and reports whether there was a live one.
pub async fn delete_removes_and_says_whether_there_was_one<V: Vault<String>>(
    vault: V,
    _clock: ManualClock,
) {
    let m = manager();
    let alice = user("alice");
    let t = m.caller(&alice).expect("caller");
    assert!(!vault.delete(&t, "k").await.expect("delete"));
    vault.put(&t, "k", "v".into()).await.expect("put");
    assert!(vault.delete(&t, "k").await.expect("delete"));
    assert!(!vault.delete(&t, "k").await.expect("delete again"));
    assert_eq!(
        vault
            .read(&t, "k")
            .await
            .expect("read")
            .map(|e| e.into_value()),
        None
    );
}
