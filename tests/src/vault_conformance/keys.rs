//! Conformance cases: keys are listed sorted and live only, and every vault takes and
//! refuses the same keys.

use std::time::Duration;

use oob::vault::{KeyError, MAX_KEY_LEN, Vault, VaultError, WriteOptions};

use super::manager;
use crate::conformance::ManualClock;
use crate::user;

/// Keys come sorted, only live ones, only the namespace's own.
pub async fn keys_are_sorted_and_live_only<V: Vault<String>>(vault: V, clock: ManualClock) {
    let m = manager();
    let (alice, bob) = (user("alice"), user("bob"));
    let (a, b) = (m.caller(&alice).expect("a"), m.caller(&bob).expect("b"));
    for k in ["zeta", "alpha", "mid"] {
        vault.put(&a, k, k.into()).await.expect("put");
    }
    let soon = WriteOptions::new().expires_at(clock.now_system() + Duration::from_secs(5));
    vault
        .write(&a, "short", "s".into(), soon)
        .await
        .expect("write");
    vault.put(&b, "bobs", "b".into()).await.expect("put");
    assert_eq!(
        vault.keys(&a).await.expect("keys"),
        ["alpha", "mid", "short", "zeta"]
    );
    clock.advance(Duration::from_secs(6));
    assert_eq!(
        vault.keys(&a).await.expect("keys"),
        ["alpha", "mid", "zeta"]
    );
    assert_eq!(vault.keys(&b).await.expect("keys"), ["bobs"]);
}

/// Every vault takes the same keys: any text of 1 to `MAX_KEY_LEN` bytes without control
/// characters (unicode, `:` and `/` included, the longest too); an empty key, a longer one or
/// one with a control character (NUL included) is refused with `VaultError::Key` by every
/// operation, and nothing is written.
pub async fn keys_follow_one_rule<V: Vault<String>>(vault: V, _clock: ManualClock) {
    let m = manager();
    let alice = user("alice");
    let t = m.caller(&alice).expect("caller");
    let longest = "ü".repeat(MAX_KEY_LEN / 2);
    let mut taken = vec![longest.clone(), "oauth:git/hub ✓ %s *?[]{x}".to_owned()];
    for k in &taken {
        vault
            .put(&t, k, k.clone())
            .await
            .expect("a valid key is taken");
        assert_eq!(vault.get(&t, k).await.expect("read").as_ref(), Some(k));
    }
    taken.sort_unstable();
    assert_eq!(vault.keys(&t).await.expect("keys"), taken);
    let too_long = format!("{longest}x");
    for (bad, why) in [
        ("", KeyError::Empty),
        (too_long.as_str(), KeyError::TooLong(MAX_KEY_LEN + 1)),
        ("a\0b", KeyError::ControlCharacter(1)),
        ("tab\there", KeyError::ControlCharacter(3)),
    ] {
        let refused = |r: VaultError| matches!(r, VaultError::Key(e) if e == why);
        let w = vault.put(&t, bad, "v".into()).await.expect_err("write");
        assert!(refused(w), "write of a bad key");
        let r = vault.read(&t, bad).await.expect_err("read");
        assert!(refused(r), "read of a bad key");
        let d = vault.delete(&t, bad).await.expect_err("delete");
        assert!(refused(d), "delete of a bad key");
    }
    assert_eq!(
        vault.keys(&t).await.expect("keys"),
        taken,
        "nothing written"
    );
}
