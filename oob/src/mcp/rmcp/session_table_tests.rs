//! Tests for the indexed session [`Table`]: it decides exactly as a table that scans every
//! entry (the straightforward implementation it replaced), and its indexes stay in step.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::{Table, Use};
use crate::mcp::rmcp::SessionRefused;
use crate::namespace::Namespace;

/// The scanning table: purge by retaining, evict by a minimum over every entry, count an
/// owner's entries by filtering.
struct Scanning {
    sessions: HashMap<String, (Option<Namespace>, Instant)>,
    opening: usize,
    /// The owners of the slots held.
    opening_by: Vec<Option<Namespace>>,
    capacity: usize,
    per_owner: usize,
    anonymous: usize,
    idle: Duration,
    refuse: bool,
}

impl Scanning {
    fn limit(&self, owner: &Option<Namespace>) -> usize {
        if owner.is_some() {
            self.per_owner
        } else {
            self.anonymous.min(self.capacity).max(1)
        }
    }

    fn idlest(&self, of: Option<&Option<Namespace>>) -> Option<String> {
        self.sessions
            .iter()
            .filter(|(_, (o, _))| of.is_none_or(|of| o == of))
            .min_by_key(|(_, (_, seen))| *seen)
            .map(|(id, _)| id.clone())
    }

    fn reserve(&mut self, owner: &Option<Namespace>, now: Instant) -> Result<(), SessionRefused> {
        let idle = self.idle;
        self.sessions
            .retain(|_, (_, seen)| now.saturating_duration_since(*seen) < idle);
        while self.sessions.len() + self.opening >= self.capacity {
            let group = self.sessions.values().filter(|(o, _)| o == owner).count()
                + self.opening_by.iter().filter(|o| *o == owner).count();
            let idlest = if group >= self.limit(owner) {
                self.idlest(Some(owner))
            } else {
                self.idlest(None)
            };
            match idlest {
                Some(id) if !self.refuse => {
                    self.sessions.remove(&id);
                }
                _ => {
                    return Err(SessionRefused::Full {
                        capacity: self.capacity,
                    });
                }
            }
        }
        self.opening += 1;
        self.opening_by.push(owner.clone());
        Ok(())
    }

    fn release(&mut self, owner: &Option<Namespace>) {
        self.opening -= 1;
        let at = self.opening_by.iter().position(|o| o == owner).unwrap();
        self.opening_by.remove(at);
    }

    fn admit(
        &mut self,
        session: String,
        owner: Option<Namespace>,
        now: Instant,
    ) -> Result<(), SessionRefused> {
        self.reserve(&owner, now)?;
        self.release(&owner);
        self.insert(session, owner, now);
        Ok(())
    }

    fn insert(&mut self, session: String, owner: Option<Namespace>, now: Instant) {
        self.sessions.remove(&session);
        let limit = self.limit(&owner);
        while self.sessions.values().filter(|(o, _)| *o == owner).count() >= limit {
            let idlest = self
                .sessions
                .iter()
                .filter(|(_, (o, _))| *o == owner)
                .min_by_key(|(_, (_, seen))| *seen)
                .map(|(id, _)| id.clone());
            let Some(id) = idlest else { break };
            self.sessions.remove(&id);
        }
        self.sessions.insert(session, (owner, now));
    }

    fn use_session(&mut self, session: &str, subject: Option<&Namespace>, now: Instant) -> Use {
        let Some((owner, seen)) = self.sessions.get_mut(session) else {
            return Use::Unknown;
        };
        if now.saturating_duration_since(*seen) >= self.idle {
            self.sessions.remove(session);
            return Use::Unknown;
        }
        if owner.as_ref() != subject {
            return Use::Other;
        }
        *seen = now;
        Use::Owner
    }
}

/// A small deterministic generator (xorshift64*), so a failure replays.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn table(capacity: usize, per_owner: usize, idle: Duration, refuse: bool) -> (Table, Scanning) {
    // Sessions without a subject share a bound of their own, small enough to be met.
    let anonymous = per_owner + 1;
    let indexed = Table {
        capacity,
        per_owner,
        anonymous,
        idle,
        refuse,
        ..Table::default()
    };
    let scanning = Scanning {
        sessions: HashMap::new(),
        opening: 0,
        opening_by: Vec::new(),
        capacity,
        per_owner,
        anonymous,
        idle,
        refuse,
    };
    (indexed, scanning)
}

fn same(indexed: &Table, scanning: &Scanning) {
    indexed.assert_consistent();
    assert_eq!(indexed.len(), scanning.sessions.len());
    assert_eq!(indexed.opening, scanning.opening);
    for (id, (owner, seen)) in &scanning.sessions {
        let entry = &indexed.sessions[id];
        assert_eq!((&entry.owner, entry.stamp.0), (owner, *seen), "{id}");
    }
}

#[test]
fn decides_exactly_as_the_scanning_table() {
    let owners: Vec<Option<Namespace>> = ["alice", "bob", "carol"]
        .iter()
        .map(|n| Some(Namespace::new(*n).unwrap()))
        .chain([None])
        .collect();
    for (seed, refuse) in [(7, false), (11, true), (13, false), (17, true)] {
        let (mut indexed, mut scanning) = table(8, 3, Duration::from_millis(60), refuse);
        let mut rng = Rng(seed);
        let mut now = Instant::now();
        let mut opened = 0usize;
        let mut held: Vec<Option<Namespace>> = Vec::new();
        for step in 0..4000 {
            // Every operation at its own instant; now and then a long pause expires entries.
            let pause = if rng.below(50) == 0 {
                80
            } else {
                1 + rng.below(4)
            };
            now += Duration::from_millis(pause);
            let owner = &owners[usize::try_from(rng.below(4)).unwrap()];
            let named = format!("s{}", rng.below(opened as u64 + 1));
            match rng.below(10) {
                0..=3 => {
                    let (a, b) = (indexed.reserve(owner, now), scanning.reserve(owner, now));
                    assert_eq!(a, b, "reserve at step {step}");
                    if a.is_ok() {
                        if rng.below(4) == 0 {
                            // A request still in flight: it keeps its slot for a while.
                            held.push(owner.clone());
                        } else {
                            let id = format!("s{opened}");
                            opened += 1;
                            indexed.insert(id.clone(), owner.clone(), now);
                            scanning.insert(id, owner.clone(), now);
                            indexed.release(owner);
                            scanning.release(owner);
                        }
                    }
                }
                4 if !held.is_empty() => {
                    let owner = held.remove(0);
                    indexed.release(&owner);
                    scanning.release(&owner);
                }
                6 => {
                    // A session opened by a request that held no slot.
                    let id = format!("s{opened}");
                    opened += 1;
                    let a = indexed.admit(id.clone(), owner.clone(), now);
                    let b = scanning.admit(id, owner.clone(), now);
                    assert_eq!(a, b, "admit at step {step}");
                }
                5 => {
                    indexed.remove(&named);
                    scanning.sessions.remove(&named);
                }
                _ => {
                    // Mostly the owner itself, sometimes anyone.
                    let subject = match scanning.sessions.get(&named) {
                        Some((o, _)) if rng.below(3) > 0 => o.clone(),
                        _ => owner.clone(),
                    };
                    let a = indexed.use_session(&named, subject.as_ref(), now);
                    let b = scanning.use_session(&named, subject.as_ref(), now);
                    assert_eq!(a, b, "use of {named} at step {step}");
                }
            }
            same(&indexed, &scanning);
        }
        assert!(opened > 500, "the workload opened sessions ({opened})");
    }
}

#[test]
fn a_full_table_of_idle_entries_is_purged_by_one_reservation_and_leaves_no_index_behind() {
    let (mut indexed, _) = table(10_000, 32, Duration::from_secs(60), true);
    let start = Instant::now();
    for i in 0..10_000 {
        let owner = Namespace::new(format!("user{}", i % 400)).unwrap();
        indexed.insert(format!("s{i}"), Some(owner), start);
    }
    assert_eq!(indexed.len(), 10_000);
    assert_eq!(
        indexed.reserve(&None, start),
        Err(SessionRefused::Full { capacity: 10_000 })
    );
    indexed
        .reserve(&None, start + Duration::from_secs(60))
        .unwrap();
    assert_eq!(indexed.len(), 0);
    assert!(indexed.by_use.is_empty() && indexed.by_owner.is_empty());
    indexed.assert_consistent();
}

#[test]
fn a_subject_s_count_is_its_own_entries_and_use_reorders_them() {
    let (mut indexed, _) = table(100, 2, Duration::from_secs(60), false);
    let alice = Namespace::new("alice").unwrap();
    let t = Instant::now();
    indexed.insert("a1".into(), Some(alice.clone()), t);
    indexed.insert("anon".into(), None, t);
    indexed.insert("a2".into(), Some(alice.clone()), t + Duration::from_secs(1));
    // a1 used last: a2 is now Alice's least recently used, and goes for a3.
    let later = t + Duration::from_secs(2);
    assert_eq!(indexed.use_session("a1", Some(&alice), later), Use::Owner);
    assert_eq!(indexed.use_session("a1", None, later), Use::Other);
    indexed.insert("a3".into(), Some(alice.clone()), later);
    assert!(indexed.sessions.contains_key("a1") && indexed.sessions.contains_key("a3"));
    assert!(!indexed.sessions.contains_key("a2"));
    assert!(indexed.sessions.contains_key("anon"));
    assert_eq!(indexed.by_owner[&Some(alice)].len(), 2);
    indexed.assert_consistent();
}

/// A group at its limit only because of its openings in flight has nothing of its own to
/// give up: the next opening is refused, and no other group's session goes (it evicted the
/// table's least recently used one; found in the second re-review, 2026-12-07).
#[test]
fn openings_in_flight_past_a_group_s_limit_take_nobody_else_s_session() {
    let (mut indexed, _) = table(4, 2, Duration::from_secs(60), false);
    indexed.anonymous = 2;
    let alice = Some(Namespace::new("alice").unwrap());
    let t = Instant::now();
    indexed.insert("a1".into(), alice.clone(), t);
    indexed.insert("a2".into(), alice.clone(), t + Duration::from_secs(1));
    indexed.insert("n1".into(), None, t + Duration::from_secs(2));
    indexed.insert("n2".into(), None, t + Duration::from_secs(3));
    let now = t + Duration::from_secs(4);
    // Two anonymous openings in flight take the room from the anonymous sessions.
    indexed.reserve(&None, now).expect("from n1");
    indexed.reserve(&None, now).expect("from n2");
    assert_eq!(
        indexed.reserve(&None, now),
        Err(SessionRefused::Full { capacity: 4 })
    );
    assert!(indexed.sessions.contains_key("a1") && indexed.sessions.contains_key("a2"));
    indexed.assert_consistent();
}
