//! Tests of the lifecycle rules.

use super::*;

const T: Timestamp = Timestamp::from_millis(10_000);

#[test]
fn the_namespace_bound_is_checked_first() {
    let l = Limits::new(2, 3);
    assert_eq!(capacity(2, 3, l), Err(Scope::Namespace));
    assert_eq!(capacity(1, 3, l), Err(Scope::Total));
    assert_eq!(capacity(1, 2, l), Ok(()));
}

#[test]
fn zero_retention_hides_an_expired_record_at_its_deadline() {
    let expired = RecordState::Expired { at: T };
    assert!(!visible(expired, Duration::ZERO, T));
    assert!(visible(expired, Duration::from_millis(1), T));
    assert!(!visible(
        expired,
        Duration::from_millis(1),
        Timestamp::from_millis(10_001)
    ));
    let done = RecordState::Completed { at: T };
    assert!(visible(done, Duration::ZERO, T));
    // Kept for its wake-up, at the most until WAKE_GRACE has passed (then purged too).
    let last = Timestamp::from_millis(T.saturating_add(WAKE_GRACE).as_millis() - 1);
    assert!(visible(done, Duration::ZERO, last));
    assert!(!visible(done, Duration::ZERO, T.saturating_add(WAKE_GRACE)));
    assert!(!visible(
        done,
        Duration::from_secs(1),
        T.saturating_add(Duration::from_secs(1))
    ));
    // With zero retention a completed record still stored awaits its wake-up.
    assert!(!purge_due(done, T, Duration::ZERO, T));
    let grace = T.saturating_add(WAKE_GRACE);
    assert!(!purge_due(
        done,
        T,
        Duration::ZERO,
        Timestamp::from_millis(grace.as_millis() - 1)
    ));
    assert!(purge_due(done, T, Duration::ZERO, grace));
    assert!(purge_due(expired, T, Duration::ZERO, T));
}

#[test]
fn the_latest_decline_answers_and_the_cooldown_is_exact() {
    let declined = |at| RecordState::Cancelled {
        at,
        reason: CancelReason::Declined,
    };
    let cd = Duration::from_millis(5);
    assert_eq!(
        cooling(declined(T), cd, Timestamp::from_millis(10_004)),
        Some(T)
    );
    assert_eq!(
        cooling(declined(T), cd, Timestamp::from_millis(10_005)),
        None
    );
    // A zero (or under a millisecond) cooldown never answers, also for a decline
    // stamped after now.
    for none in [Duration::ZERO, Duration::from_micros(999)] {
        assert_eq!(
            cooling(declined(T), none, Timestamp::from_millis(9_999)),
            None
        );
    }
    let mut pick = LatestDecline::default();
    pick.offer(T, 'a');
    pick.offer(Timestamp::from_millis(10_001), 'b');
    pick.offer(Timestamp::from_millis(10_001), 'c');
    assert_eq!(pick.pick(), Some('b'));
}

#[test]
fn every_state_round_trips_through_its_code() {
    let exp = T.saturating_add(Duration::from_secs(1));
    for s in [
        RecordState::Open,
        RecordState::Completed { at: T },
        RecordState::Cancelled {
            at: T,
            reason: CancelReason::Cancelled,
        },
        RecordState::Cancelled {
            at: T,
            reason: CancelReason::Declined,
        },
        RecordState::Expired { at: exp },
    ] {
        let (code, at) = StateCode::of(s);
        assert_eq!(StateCode::parse(code.as_str()).ok(), Some(code));
        assert_eq!(code.state(at, exp, T).ok(), Some(s));
    }
    assert!(StateCode::parse("bogus").is_err());
    assert!(StateCode::Completed.state(None, exp, T).is_err());
    assert_eq!(
        StateCode::Open.state(None, exp, exp).ok(),
        Some(RecordState::Expired { at: exp })
    );
}

#[test]
fn a_join_needs_an_open_record_before_its_deadline_and_the_same_key() {
    let ms = Duration::from_millis;
    assert!(joinable(RecordState::Open, T.saturating_add(ms(1)), T));
    assert!(!joinable(RecordState::Open, T, T), "not at the deadline");
    let done = RecordState::Completed { at: T };
    assert!(!joinable(done, T.saturating_add(ms(10)), T));
    let body = |alias: &str, resource: &str| {
        Body::new((), Some(alias.into()), Some(resource.into()), None)
    };
    assert!(same_key(&body("k", "r"), &body("k", "r")));
    assert!(!same_key(&body("k", "r1"), &body("k", "r2")));
    assert!(!same_key(&body("k1", "r"), &body("k2", "r")));
    assert!(!same_key(
        &body("k", "r"),
        &Body::new((), Some("k".into()), None, None)
    ));
}

#[test]
fn a_refusal_says_not_found_then_mismatch_then_how_it_ended() {
    let r = Duration::from_secs(60);
    let done = RecordState::Completed { at: T };
    let expired = RecordState::Expired { at: T };
    let later = T.saturating_add(r);
    let kind = |e: Option<TransitionError>| match e {
        None => "applies",
        Some(TransitionError::NotFound) => "not found",
        Some(TransitionError::NamespaceMismatch) => "mismatch",
        Some(TransitionError::Finished(_)) => "finished",
        Some(_) => "other",
    };
    assert_eq!(kind(refusal(RecordState::Open, r, T, true)), "applies");
    assert_eq!(kind(refusal(RecordState::Open, r, T, false)), "mismatch");
    for ended in [done, expired] {
        assert_eq!(kind(refusal(ended, r, T, true)), "finished");
        // Another namespace learns nothing of how it ended.
        assert_eq!(kind(refusal(ended, r, T, false)), "mismatch");
        // Past the window: gone for everyone.
        assert_eq!(kind(refusal(ended, r, later, true)), "not found");
        assert_eq!(kind(refusal(ended, r, later, false)), "not found");
    }
    assert!(matches!(
        refusal(expired, r, T, true),
        Some(TransitionError::Finished(crate::store::Finished::Expired))
    ));
}
