//! The model: the operations, what a caller observes, and the lifecycle rules written
//! plainly from their description (not from any store's code).

use std::collections::BTreeSet;

use oob::store::Scope;
use proptest::prelude::*;

pub(crate) const PER_NAMESPACE: usize = 3;
pub(crate) const TOTAL: usize = 5;
pub(crate) const COOLDOWN_MS: u64 = 500;
pub(crate) const NAMESPACES: [&str; 3] = ["a", "b", "c"];

#[derive(Debug, Clone)]
pub(crate) enum Op {
    Create {
        ns: usize,
        alias: Option<u8>,
        ttl_ms: u64,
        join: bool,
    },
    /// Complete pending `i`, expecting namespace `ns` when given.
    Complete(usize, Option<usize>),
    /// Cancel (or decline) pending `i`, expecting namespace `ns` when given.
    Cancel(usize, bool, Option<usize>),
    Get(usize),
    List(usize),
    Clear(usize),
    Purge,
    Advance(u64),
}

pub(crate) fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        // Times on a 100 ms grid (plus single milliseconds), so deadlines, cooldowns and
        // retention windows are often hit exactly.
        4 => (0..3usize, prop::option::of(0..2u8), 1..15u64, any::<bool>()).prop_map(
            |(ns, alias, ttl, join)| Op::Create { ns, alias, ttl_ms: ttl * 100, join }
        ),
        2 => (0..12usize, expect()).prop_map(|(i, ns)| Op::Complete(i, ns)),
        2 => (0..12usize, any::<bool>(), expect()).prop_map(|(i, d, ns)| Op::Cancel(i, d, ns)),
        2 => (0..12usize).prop_map(Op::Get),
        1 => (0..3usize).prop_map(Op::List),
        1 => (0..3usize).prop_map(Op::Clear),
        1 => Just(Op::Purge),
        3 => prop_oneof![0..2u64, Just(99), (1..12u64).prop_map(|k| k * 100)].prop_map(Op::Advance),
    ]
}

/// The namespace a transition expects: none half the time, else any of them.
fn expect() -> impl Strategy<Value = Option<usize>> {
    prop_oneof![Just(None), (0..3usize).prop_map(Some)]
}

/// What a caller observes; pendings are named by their creation index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Obs {
    Created,
    /// Joined one of these (the open pendings of the key with the earliest deadline).
    Joined(BTreeSet<usize>),
    Declined(BTreeSet<usize>),
    Capacity(Scope),
    Ok,
    NotFound,
    Expired,
    Finished(&'static str),
    Mismatch,
    Open,
    State(&'static str),
    List(BTreeSet<usize>),
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum St {
    Open,
    Done(&'static str, u64),
}

#[derive(Debug)]
pub(crate) struct Rec {
    pub(crate) ns: usize,
    pub(crate) alias: Option<u8>,
    pub(crate) expires: u64,
    pub(crate) st: St,
    pub(crate) present: bool,
}

/// The rules, plainly.
pub(crate) struct Model {
    pub(crate) recs: Vec<Rec>,
    pub(crate) retention: u64,
    pub(crate) now: u64,
}

impl Model {
    fn expired(&self, r: &Rec) -> bool {
        r.st == St::Open && r.expires <= self.now
    }

    fn open(&self, r: &Rec) -> bool {
        r.present && r.st == St::Open && r.expires > self.now
    }

    fn visible(&self, r: &Rec) -> bool {
        r.present
            && match r.st {
                St::Open if r.expires > self.now => true,
                St::Open => r.expires + self.retention > self.now,
                St::Done(_, at) => at + self.retention > self.now,
            }
    }

    pub(crate) fn create(&mut self, ns: usize, alias: Option<u8>, ttl: u64, join: bool) -> Obs {
        if join {
            let open: Vec<usize> = (0..self.recs.len())
                .filter(|&i| {
                    let r = &self.recs[i];
                    r.ns == ns && r.alias == alias && self.open(r)
                })
                .collect();
            // The lifecycle rule: the earliest deadline (ties: any of them).
            if let Some(earliest) = open.iter().map(|&i| self.recs[i].expires).min() {
                return Obs::Joined(
                    open.into_iter()
                        .filter(|&i| self.recs[i].expires == earliest)
                        .collect(),
                );
            }
            let cooling = |r: &Rec| match r.st {
                St::Done("declined", at) if at + COOLDOWN_MS > self.now => Some(at),
                _ => None,
            };
            let candidates: Vec<(usize, u64)> = (0..self.recs.len())
                .filter(|&i| self.recs[i].ns == ns && self.recs[i].alias == alias)
                .filter(|&i| self.visible(&self.recs[i]))
                .filter_map(|i| cooling(&self.recs[i]).map(|at| (i, at)))
                .collect();
            if let Some(latest) = candidates.iter().map(|c| c.1).max() {
                return Obs::Declined(
                    candidates
                        .iter()
                        .filter(|c| c.1 == latest)
                        .map(|c| c.0)
                        .collect(),
                );
            }
        }
        let in_ns = self
            .recs
            .iter()
            .filter(|r| r.ns == ns && self.open(r))
            .count();
        let total = self.recs.iter().filter(|r| self.open(r)).count();
        if in_ns >= PER_NAMESPACE {
            return Obs::Capacity(Scope::Namespace);
        }
        if total >= TOTAL {
            return Obs::Capacity(Scope::Total);
        }
        self.recs.push(Rec {
            ns,
            alias,
            expires: self.now + ttl,
            st: St::Open,
            present: true,
        });
        Obs::Created
    }

    pub(crate) fn finish(&mut self, i: usize, how: &'static str, expect: Option<usize>) -> Obs {
        let Some(r) = self.recs.get(i) else {
            return Obs::NotFound;
        };
        if !self.visible(r) {
            return Obs::NotFound;
        }
        // Another namespace's record: a mismatch, whatever its state.
        if expect.is_some_and(|ns| ns != r.ns) {
            return Obs::Mismatch;
        }
        if self.expired(r) {
            return Obs::Expired;
        }
        if let St::Done(was, _) = r.st {
            return Obs::Finished(was);
        }
        let (now, zero) = (self.now, self.retention == 0);
        let r = &mut self.recs[i];
        r.st = St::Done(how, now);
        if zero {
            r.present = false;
        }
        Obs::Ok
    }

    pub(crate) fn get(&self, i: usize) -> Obs {
        match self.recs.get(i) {
            Some(r) if self.visible(r) => match r.st {
                St::Open if self.expired(r) => Obs::State("expired"),
                St::Open => Obs::Open,
                St::Done(how, _) => Obs::State(how),
            },
            _ => Obs::NotFound,
        }
    }

    pub(crate) fn list(&self, ns: usize) -> Obs {
        Obs::List(
            (0..self.recs.len())
                .filter(|&i| self.recs[i].ns == ns && self.open(&self.recs[i]))
                .collect(),
        )
    }
}
