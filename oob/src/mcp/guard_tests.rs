//! Tests of [`MemoryStateGuard`](super::MemoryStateGuard).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::{GuardError, MemoryStateGuard, StateGuard};

const MIN: Duration = Duration::from_secs(60);

#[tokio::test]
async fn first_consume_wins_and_the_second_is_a_replay() {
    let g = MemoryStateGuard::new();
    let exp = SystemTime::now() + MIN;
    g.consume("a", exp).await.unwrap();
    assert!(matches!(
        g.consume("a", exp).await,
        Err(GuardError::Replayed)
    ));
    // Another expiry does not make it a new state.
    assert!(matches!(
        g.consume("a", exp + MIN).await,
        Err(GuardError::Replayed)
    ));
    g.consume("b", exp).await.unwrap();
    assert_eq!(g.len(), 2);
    assert_eq!(
        GuardError::Replayed.to_string(),
        "the request state was already used"
    );
}

#[test]
fn expired_entries_are_pruned_on_consume_and_on_demand() {
    let g = MemoryStateGuard::new();
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    g.consume_at("short", t0 + MIN, t0).unwrap();
    g.consume_at("long", t0 + 10 * MIN, t0).unwrap();
    assert_eq!(g.len(), 2);
    // Until its expiry the nonce is remembered...
    let before = t0 + MIN - Duration::from_millis(1);
    assert!(matches!(
        g.consume_at("short", t0 + MIN, before),
        Err(GuardError::Replayed)
    ));
    // ...and at its expiry it is dropped by the next consume (of anything).
    g.consume_at("other", t0 + 2 * MIN, t0 + MIN).unwrap();
    assert_eq!(g.len(), 2, "short dropped, other added");
    assert_eq!(g.prune(t0 + 2 * MIN), 1);
    assert_eq!(g.len(), 1);
    assert_eq!(g.prune(t0 + 10 * MIN), 1);
    assert!(g.is_empty());
}

#[test]
fn a_state_consumed_after_its_expiry_is_kept_for_the_late_margin() {
    // Retries that opened the state in time reach the guard after its expiry (they waited
    // for the browser step): the first is the use, the others replays, not more uses.
    let g = MemoryStateGuard::new();
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let late = t0 + MIN;
    g.consume_at("late", t0, late).unwrap();
    assert!(matches!(
        g.consume_at("late", t0, late + Duration::from_secs(1)),
        Err(GuardError::Replayed)
    ));
    let end = late + MemoryStateGuard::LATE_MARGIN;
    assert!(matches!(
        g.consume_at("late", t0, end - Duration::from_millis(1)),
        Err(GuardError::Replayed)
    ));
    assert_eq!(g.prune(end), 1);
    assert!(g.is_empty());
}

#[test]
fn one_namespace_filling_its_share_blocks_itself_only() {
    let g = MemoryStateGuard::with_capacity(10).with_namespace_capacity(3);
    assert_eq!(g.namespace_capacity(), 3);
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    for n in ["m1", "m2", "m3"] {
        g.consume_for_at("mallory", n, t0 + MIN, t0).unwrap();
    }
    let err = g.consume_for_at("mallory", "m4", t0 + MIN, t0).unwrap_err();
    assert!(matches!(err, GuardError::Full { capacity: 3 }), "{err:?}");
    // A replay is still a replay.
    assert!(matches!(
        g.consume_for_at("mallory", "m1", t0 + MIN, t0),
        Err(GuardError::Replayed)
    ));
    for n in ["a1", "a2", "a3"] {
        g.consume_for_at("alice", n, t0 + MIN, t0).unwrap();
    }
    // The total bound still holds over every namespace.
    for n in ["b1", "b2", "b3"] {
        g.consume_for_at(n, n, t0 + MIN, t0).unwrap();
    }
    g.consume_at("u1", t0 + MIN, t0).unwrap();
    let err = g.consume_for_at("carol", "c1", t0 + MIN, t0).unwrap_err();
    assert!(matches!(err, GuardError::Full { capacity: 10 }), "{err:?}");
    // Expired entries give each namespace its share back.
    g.consume_for_at("mallory", "m4", t0 + 3 * MIN, t0 + MIN)
        .unwrap();
    assert_eq!(g.len(), 1);
}

#[test]
fn capacity_bounds_unexpired_entries_and_expired_ones_make_room() {
    let g = MemoryStateGuard::with_capacity(3);
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    for n in ["a", "b", "c"] {
        g.consume_at(n, t0 + MIN, t0).unwrap();
    }
    let err = g.consume_at("d", t0 + MIN, t0).unwrap_err();
    assert!(matches!(err, GuardError::Full { capacity: 3 }), "{err:?}");
    assert!(err.to_string().contains('3'));
    // A full guard still recognizes replays rather than reporting it is full.
    assert!(matches!(
        g.consume_at("a", t0 + MIN, t0),
        Err(GuardError::Replayed)
    ));
    // Once they expire, there is room again.
    g.consume_at("d", t0 + 2 * MIN, t0 + MIN).unwrap();
    assert_eq!(g.len(), 1);
    assert_eq!(g.capacity(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_consumers_of_one_nonce_exactly_one_wins() {
    let g = Arc::new(MemoryStateGuard::new());
    let exp = SystemTime::now() + MIN;
    for round in 0..50 {
        let nonce = format!("n{round}");
        let start = Arc::new(tokio::sync::Barrier::new(16));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (g, start, nonce) = (g.clone(), start.clone(), nonce.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    g.consume(&nonce, exp).await
                })
            })
            .collect();
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => ok += 1,
                Err(GuardError::Replayed) => {}
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(ok, 1, "round {round}");
    }
    assert_eq!(g.len(), 50);
}

/// With both bounds reached, the namespace's share answers, as the stores check their
/// bounds (the namespace first).
#[test]
fn the_namespace_share_is_checked_before_the_whole_guard() {
    let g = MemoryStateGuard::with_capacity(2).with_namespace_capacity(1);
    let t0 = SystemTime::now();
    g.consume_for_at("alice", "a1", t0 + MIN, t0).unwrap();
    g.consume_for_at("bob", "b1", t0 + MIN, t0).unwrap();
    assert!(matches!(
        g.consume_for_at("alice", "a2", t0 + MIN, t0),
        Err(GuardError::Full { capacity: 1 })
    ));
    assert!(matches!(
        g.consume_for_at("carol", "c1", t0 + MIN, t0),
        Err(GuardError::Full { capacity: 2 })
    ));
    assert_eq!(g.len(), 2, "a refused consume records nothing");
}

#[test]
fn debug_shows_neither_nonces_nor_scopes() {
    let g = MemoryStateGuard::with_capacity(10).with_namespace_capacity(3);
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    g.consume_for_at("SCOPE-MARKER", "NONCE-MARKER", t0 + MIN, t0)
        .unwrap();
    let debug = format!("{g:?}");
    assert!(
        !debug.contains("MARKER"),
        "a used state's nonce or scope in {debug}"
    );
    assert!(debug.contains("remembered: Some(1)"), "{debug}");
}
