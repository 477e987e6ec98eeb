//! [`CreateRate`]: how many pendings one namespace may create per window, in this manager
//! ([`ManagerBuilder::max_creates_per_namespace`](super::ManagerBuilder::max_creates_per_namespace)).
//!
//! The capacity bounds count open pendings; a finished one is kept for the retention window
//! whatever their number, so a caller that loops create and cancel leaves one record per
//! loop. A rate bounds that: with a sweeper purging every `sweep`, a namespace keeps at most
//! about `n × (retention + TTL + sweep) / per` records, plus a burst of `n`.
//!
//! The rule is GCRA (the generic cell rate algorithm, as in ATM networks and the `governor`
//! crate): each namespace has one time, its *theoretical arrival time* `tat`. A create at
//! `now` is let through when `tat - now` is at most the burst tolerance (`per - per / n`),
//! and moves `tat` to `max(tat, now) + per / n`; so `n` creates in a burst, then one every
//! `per / n`. A namespace whose `tat` has passed is at its full burst, the same as a
//! namespace never seen: its entry can go. Constant work per create; the entries that can go
//! are dropped by [`CreateRate::prune`] (each purge, so each sweep) and whenever the map has
//! doubled since the last drop.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::namespace::{Namespace, PrehashedBuild};
use crate::time::Timestamp;

/// At least this many entries before growth alone drops the entries that can go.
const PRUNE_FLOOR: usize = 1_024;

/// The per-namespace create rate of one manager (see the module docs).
pub(super) struct CreateRate {
    /// `per / n`: how far one create moves a namespace's time.
    step: Duration,
    /// `per - step`: how far ahead of now a namespace's time may be for a create to pass.
    tolerance: Duration,
    state: Mutex<Times>,
}

struct Times {
    tat: HashMap<Namespace, Duration, PrehashedBuild>,
    /// The size at which a create drops the entries that can go.
    prune_at: usize,
}

impl CreateRate {
    /// `n` creates per `per` in each namespace; `None` for a zero `per` (no limit).
    pub(super) fn new(n: NonZeroU32, per: Duration) -> Option<Self> {
        if per.is_zero() {
            return None;
        }
        let step = per / n.get();
        Some(Self {
            step,
            tolerance: per - step,
            state: Mutex::new(Times {
                tat: HashMap::default(),
                prune_at: PRUNE_FLOOR,
            }),
        })
    }

    /// Lets one create of `namespace` through at `now`, or answers how long until one would
    /// pass.
    pub(super) fn take(&self, namespace: &Namespace, now: Timestamp) -> Result<(), Duration> {
        let now = Duration::from_millis(now.as_millis());
        let mut times = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if times.tat.len() >= times.prune_at {
            times.prune(now);
            times.prune_at = (times.tat.len() * 2).max(PRUNE_FLOOR);
        }
        let stored = times.tat.get(namespace).copied();
        // Never more than a whole window ahead: a clock stepped back waits at most `per`.
        // Kept so, refused or not, or the next call would find the time as far ahead again.
        // (Saturating: a window as long as `Duration::MAX` is a limit, not a panic.)
        let window_ahead = now.saturating_add(self.tolerance).saturating_add(self.step);
        let tat = stored.unwrap_or(now).clamp(now, window_ahead);
        let ahead = tat - now;
        if ahead > self.tolerance {
            if stored.is_some_and(|s| s > tat) {
                times.tat.insert(namespace.clone(), tat);
            }
            // In whole milliseconds, rounded up, as the clock counts: a caller that waits
            // this long gets through.
            return Err(ceil_ms(ahead - self.tolerance));
        }
        times
            .tat
            .insert(namespace.clone(), tat.saturating_add(self.step));
        Ok(())
    }

    /// Drops the namespaces back at their full burst at `now`.
    pub(super) fn prune(&self, now: Timestamp) {
        let now = Duration::from_millis(now.as_millis());
        let mut times = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        times.prune(now);
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .tat
            .len()
    }
}

/// `d` rounded up to whole milliseconds.
fn ceil_ms(d: Duration) -> Duration {
    let whole = Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    if whole < d {
        whole.saturating_add(Duration::from_millis(1))
    } else {
        whole
    }
}

impl Times {
    fn prune(&mut self, now: Duration) {
        self.tat.retain(|_, tat| *tat > now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> Namespace {
        s.parse().expect("namespace")
    }

    fn at(ms: u64) -> Timestamp {
        Timestamp::from_millis(1_000_000 + ms)
    }

    fn rate(n: u32, per_ms: u64) -> CreateRate {
        CreateRate::new(
            NonZeroU32::new(n).expect("n"),
            Duration::from_millis(per_ms),
        )
        .expect("a rate")
    }

    #[test]
    fn a_burst_of_n_then_one_per_step() {
        let r = rate(3, 60_000);
        let alice = ns("alice");
        for _ in 0..3 {
            assert_eq!(r.take(&alice, at(0)), Ok(()));
        }
        assert_eq!(r.take(&alice, at(0)), Err(Duration::from_secs(20)));
        assert_eq!(r.take(&alice, at(19_999)), Err(Duration::from_millis(1)));
        // A refused create moves nothing.
        assert_eq!(r.take(&alice, at(20_000)), Ok(()));
        assert_eq!(r.take(&alice, at(20_000)), Err(Duration::from_secs(20)));
        // A whole window later, the whole burst again.
        for _ in 0..3 {
            assert_eq!(r.take(&alice, at(100_000)), Ok(()));
        }
        assert!(r.take(&alice, at(100_000)).is_err());
    }

    /// A step that is no whole number of milliseconds: the wait is rounded up, so a caller
    /// that waits it gets through (and is never told 0 ms).
    #[test]
    fn the_wait_is_whole_milliseconds_rounded_up() {
        let r = rate(3, 1_000);
        let alice = ns("alice");
        for _ in 0..3 {
            assert_eq!(r.take(&alice, at(0)), Ok(()));
        }
        assert_eq!(r.take(&alice, at(0)), Err(Duration::from_millis(334)));
        assert_eq!(r.take(&alice, at(333)), Err(Duration::from_millis(1)));
        assert_eq!(r.take(&alice, at(334)), Ok(()));
    }

    #[test]
    fn namespaces_have_a_rate_each() {
        let r = rate(1, 1_000);
        assert_eq!(r.take(&ns("alice"), at(0)), Ok(()));
        assert!(r.take(&ns("alice"), at(0)).is_err());
        assert_eq!(r.take(&ns("bob"), at(0)), Ok(()));
    }

    #[test]
    fn a_clock_stepped_back_waits_at_most_a_window() {
        let r = rate(2, 10_000);
        let alice = ns("alice");
        assert_eq!(r.take(&alice, at(7_200_000)), Ok(()));
        assert_eq!(r.take(&alice, at(7_200_000)), Ok(()));
        // An hour back: the namespace's time is held at a window ahead, no further, and
        // stays so: waiting what the refusal says lets the next create through.
        assert_eq!(r.take(&alice, at(3_600_000)), Err(Duration::from_secs(5)));
        assert_eq!(r.take(&alice, at(3_602_000)), Err(Duration::from_secs(3)));
        assert_eq!(r.take(&alice, at(3_605_000)), Ok(()));
    }

    #[test]
    fn a_window_of_duration_max_is_a_limit_not_a_panic() {
        let r = CreateRate::new(NonZeroU32::MIN, Duration::MAX).expect("a rate");
        assert_eq!(r.take(&ns("alice"), at(0)), Ok(()));
        assert!(r.take(&ns("alice"), at(0)).is_err());
        assert!(r.take(&ns("alice"), Timestamp::LATEST_DEADLINE).is_err());
    }

    #[test]
    fn a_zero_window_is_no_limit() {
        assert!(CreateRate::new(NonZeroU32::MIN, Duration::ZERO).is_none());
    }

    #[test]
    fn prune_drops_only_namespaces_at_their_full_burst() {
        let r = rate(2, 10_000);
        assert_eq!(r.take(&ns("alice"), at(0)), Ok(()));
        assert_eq!(r.take(&ns("bob"), at(4_000)), Ok(()));
        // alice's time is 5 s, bob's 9 s.
        r.prune(at(5_000));
        assert_eq!(r.len(), 1);
        r.prune(at(9_000));
        assert_eq!(r.len(), 0);
    }

    #[test]
    fn growth_drops_the_namespaces_at_their_full_burst() {
        let r = rate(1, 1_000);
        for i in 0..PRUNE_FLOOR {
            assert_eq!(r.take(&ns(&format!("user-{i}")), at(0)), Ok(()));
        }
        assert_eq!(r.len(), PRUNE_FLOOR);
        // A second later every earlier namespace is back at its burst: the next create
        // drops them all before it adds its own.
        assert_eq!(r.take(&ns("late"), at(1_000)), Ok(()));
        assert_eq!(r.len(), 1);
    }

    /// A purge (so each sweep) drops the namespaces back at their full burst.
    #[tokio::test(start_paused = true)]
    async fn a_purge_drops_the_namespaces_at_their_full_burst() {
        #[derive(Clone, crate::OobPayload)]
        #[oob(kind = "rate_test", route = "/t/{id}", crate = "crate")]
        struct P;
        let m = crate::Manager::builder()
            .store(crate::store::MemoryStore::<P>::new())
            .provider(crate::provider::FromVerifiedSubject)
            .callback_base(crate::CallbackBase::parse("https://ex.com").expect("base"))
            .clock(crate::time::TokioClock::new())
            .max_creates_per_namespace(NonZeroU32::MIN, Duration::from_secs(10))
            .build();
        let alice = crate::provider::VerifiedSubject::new(ns("alice"));
        m.create(&alice, crate::Spec::new(P)).await.expect("create");
        let rate = m.inner.create_rate.as_ref().expect("a rate");
        m.purge().await.expect("purge");
        assert_eq!(rate.len(), 1, "alice's burst is spent for 10 s");
        tokio::time::advance(Duration::from_secs(10)).await;
        m.purge().await.expect("purge");
        assert_eq!(rate.len(), 0);
    }
}
