//! The vault conformance suite: one set of cases that every [`Vault`] must pass.
//!
//! Invoke [`vault_conformance!`](macro@crate::vault_conformance) in a test file with a path to an
//! `async fn(clock: ManualClock) -> V` that returns a fresh, empty, isolated
//! `V: Vault<String> + Clone` deciding expiry by `clock`:
//!
//! ```ignore
//! async fn make(clock: ManualClock) -> MemoryVault<String> {
//!     MemoryVault::new().with_clock(clock)
//! }
//! oob_tests::vault_conformance!(make);
//! ```
//!
//! Tokens come the two ways an application gets them: a manager's caller token for a
//! verified subject, and the persist step of a winning completion.

use std::collections::HashSet;
use std::time::Duration;

use oob::vault::{KeyError, MAX_KEY_LEN, Vault, VaultError, WriteOptions};

use crate::conformance::ManualClock;
use crate::{TestManager, spec, user};

/// Generates one `#[tokio::test]` per vault conformance case in the invoking module.
#[macro_export]
macro_rules! vault_conformance {
    ($make:path) => {
        $crate::vault_conformance!(@cases $make;
            write_then_read_round_trips_with_metadata,
            namespaces_are_isolated,
            every_write_changes_the_version,
            delete_removes_and_says_whether_there_was_one,
            keys_are_sorted_and_live_only,
            expired_entries_read_as_absent,
            extreme_expiries_are_kept_or_end_at_once,
            keys_follow_one_rule,
            compare_and_swap_on_the_version,
            compare_and_swap_if_absent,
            concurrent_refreshes_lose_no_write,
            the_winning_completion_writes_and_the_caller_reads,
        );
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let clock = $crate::conformance::ManualClock::new();
                let vault = $make(clock.clone()).await;
                $crate::vault_conformance::$case(vault, clock).await;
            }
        )*
    };
}

fn manager() -> TestManager {
    crate::manager()
}

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

/// Bob reads, lists and deletes nothing of alice's.
pub async fn namespaces_are_isolated<V: Vault<String>>(vault: V, _clock: ManualClock) {
    let m = manager();
    let (alice, bob) = (user("alice"), user("bob"));
    let (a, b) = (m.caller(&alice).expect("a"), m.caller(&bob).expect("b"));
    vault
        .put(&a, "github", "alice's".into())
        .await
        .expect("put");
    assert_eq!(vault.get(&b, "github").await.expect("get"), None);
    assert!(vault.keys(&b).await.expect("keys").is_empty());
    assert!(!vault.delete(&b, "github").await.expect("delete"));
    vault.put(&b, "github", "bob's".into()).await.expect("put");
    assert_eq!(
        vault.get(&a, "github").await.expect("get").as_deref(),
        Some("alice's")
    );
    assert_eq!(
        vault.get(&b, "github").await.expect("get").as_deref(),
        Some("bob's")
    );
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

/// The two sources of a token, end to end: the persist step of the winning completion
/// writes under the pending's namespace, and that user's caller token reads it.
pub async fn the_winning_completion_writes_and_the_caller_reads<V>(vault: V, _clock: ManualClock)
where
    V: Vault<String> + Clone,
{
    let m = manager();
    let (alice, bob) = (user("alice"), user("bob"));
    let open = m.create(&alice, spec()).await.expect("create");
    let writer = vault.clone();
    m.complete_with(open, async move |token| {
        writer
            .put(&token, "github", "from the browser".into())
            .await
    })
    .await
    .expect("complete_with");
    let a = m.caller(&alice).expect("a");
    assert_eq!(
        vault.get(&a, "github").await.expect("get").as_deref(),
        Some("from the browser")
    );
    let b = m.caller(&bob).expect("b");
    assert_eq!(vault.get(&b, "github").await.expect("get"), None);
}
