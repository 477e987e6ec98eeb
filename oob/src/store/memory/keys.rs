//! [`Keys`]: a namespace's dedup index, so `create_or_join` finds its match without reading
//! the namespace's records.
//!
//! Records of a namespace sit in one `Vec`, addressed by position. For each dedup key
//! (alias and resource) the index keeps the open records with that key as a doubly linked
//! list threaded through `links` (a `Vec` parallel to the records: 8 bytes per record), in
//! deadline order (the lifecycle rule joins the earliest; a new record with the latest or
//! the earliest deadline of its key goes to an end in constant time), and the position of
//! the key's most recent decline. A namespace gets its index the first time
//! a create there asks to join (built then from its records, once): namespaces that never
//! dedup pay nothing.

use std::collections::HashMap;
use std::fmt::Write;

use super::super::Body;
use super::table::Entry;
use crate::state::CancelReason;
use crate::store::{RecordState, lifecycle};
use crate::time::Timestamp;

const NONE: u32 = u32::MAX;

/// The neighbours of an open record in its key's list (positions, [`NONE`] at the ends).
#[derive(Debug, Clone, Copy)]
struct Link {
    prev: u32,
    next: u32,
}

const UNLINKED: Link = Link {
    prev: NONE,
    next: NONE,
};

#[derive(Debug)]
struct Group {
    /// The open record with this key and the earliest deadline ([`NONE`] when there is
    /// none).
    head: u32,
    /// The open record with this key and the latest deadline ([`NONE`] when none).
    tail: u32,
    /// The most recent decline with this key still stored: when, and where.
    declined: Option<(Timestamp, u32)>,
}

/// One namespace's dedup index (see the module docs). Every method takes the namespace's
/// records as they are at the call, before any change the call describes.
#[derive(Debug, Default)]
pub(super) struct Keys {
    groups: HashMap<Box<str>, Group>,
    links: Vec<Link>,
    /// The key being looked up, encoded (reused: no allocation per lookup).
    scratch: String,
}

fn declined_at(state: RecordState) -> Option<Timestamp> {
    match state {
        RecordState::Cancelled {
            at,
            reason: CancelReason::Declined,
        } => Some(at),
        _ => None,
    }
}

fn pos(p: usize) -> u32 {
    u32::try_from(p).unwrap_or(NONE)
}

impl Keys {
    /// The index of these records.
    pub(super) fn build<T>(records: &[Entry<T>]) -> Self {
        let mut keys = Self::default();
        for p in 0..records.len() {
            keys.push(records, p);
        }
        keys
    }

    /// Writes `body`'s key (alias and resource, each absent or length-prefixed) to `scratch`.
    fn encode<T>(&mut self, body: &Body<T>) {
        self.scratch.clear();
        for label in [body.alias(), body.resource()] {
            match label {
                None => self.scratch.push('-'),
                Some(l) => {
                    let _ = write!(self.scratch, "{}:{l}", l.len());
                }
            }
        }
    }

    fn group<T>(&mut self, body: &Body<T>) -> Option<&mut Group> {
        self.encode(body);
        self.groups.get_mut(self.scratch.as_str())
    }

    /// Forgets the key's group once it holds nothing.
    fn tidy<T>(&mut self, body: &Body<T>) {
        if self
            .group(body)
            .is_some_and(|g| g.head == NONE && g.declined.is_none())
        {
            self.groups.remove(self.scratch.as_str());
        }
    }

    /// Indexes the record just pushed at position `p` of `records`.
    pub(super) fn push<T>(&mut self, records: &[Entry<T>], p: usize) {
        self.links.push(UNLINKED);
        let e = &records[p];
        self.encode(&e.body);
        if !self.groups.contains_key(self.scratch.as_str()) {
            let key = self.scratch.as_str().into();
            self.groups.insert(
                key,
                Group {
                    head: NONE,
                    tail: NONE,
                    declined: None,
                },
            );
        }
        if e.state.is_open() {
            self.link(records, pos(p));
        }
        if let Some(at) = declined_at(e.state) {
            self.offer_decline(&e.body, at, pos(p));
        }
        self.tidy(&e.body);
    }

    /// Puts the open record at `p` in its key's list, after every record whose deadline is
    /// not later than its own: at the head when it is the earliest, at the tail when it is
    /// the latest (no step either way; the usual case, as a kind's pendings share a TTL),
    /// otherwise walking back from the tail (at most the key's open records, which the
    /// namespace bound caps).
    fn link<T>(&mut self, records: &[Entry<T>], p: u32) {
        let (due, body) = (records[p as usize].expires_at, &records[p as usize].body);
        let Some((head, tail)) = self.group(body).map(|g| (g.head, g.tail)) else {
            return;
        };
        let before = |q: u32| lifecycle::joined_before(due, records[q as usize].expires_at);
        let mut prev = tail;
        if head != NONE && before(head) {
            prev = NONE;
        }
        while prev != NONE && before(prev) {
            prev = self.links[prev as usize].prev;
        }
        let next = if prev == NONE {
            head
        } else {
            self.links[prev as usize].next
        };
        self.links[p as usize] = Link { prev, next };
        self.relink(body, prev, next, p, p);
    }

    /// Takes the open record at `p` out of its key's list.
    fn unlink<T>(&mut self, body: &Body<T>, p: u32) {
        let Link { prev, next } = std::mem::replace(&mut self.links[p as usize], UNLINKED);
        self.relink(body, prev, next, next, prev);
    }

    /// Points `prev`'s next (or the group's head) at `after_prev`, and `next`'s prev (or the
    /// group's tail) at `before_next`. The group is looked up once, and only when an end
    /// moves.
    fn relink<T>(
        &mut self,
        body: &Body<T>,
        prev: u32,
        next: u32,
        after_prev: u32,
        before_next: u32,
    ) {
        if prev != NONE {
            self.links[prev as usize].next = after_prev;
        }
        if next != NONE {
            self.links[next as usize].prev = before_next;
        }
        if (prev == NONE || next == NONE)
            && let Some(g) = self.group(body)
        {
            if prev == NONE {
                g.head = after_prev;
            }
            if next == NONE {
                g.tail = before_next;
            }
        }
    }

    fn offer_decline<T>(&mut self, body: &Body<T>, at: Timestamp, p: u32) {
        if let Some(g) = self.group(body)
            && g.declined.is_none_or(|(latest, _)| at >= latest)
        {
            g.declined = Some((at, p));
        }
    }

    /// The open record at `p` moves to the finished state `to`.
    pub(super) fn close<T>(&mut self, records: &[Entry<T>], p: usize, to: RecordState) {
        let body = &records[p].body;
        self.unlink(body, pos(p));
        if let Some(at) = declined_at(to) {
            self.offer_decline(body, at, pos(p));
        }
        self.tidy(body);
    }

    /// The record at `p` is removed, and the last record moves to `p` (`Vec::swap_remove`).
    pub(super) fn remove<T>(&mut self, records: &[Entry<T>], p: usize) {
        let gone = &records[p];
        if gone.state.is_open() {
            self.unlink(&gone.body, pos(p));
        }
        if declined_at(gone.state).is_some()
            && let Some(g) = self.group(&gone.body)
            && g.declined.is_some_and(|(_, d)| d == pos(p))
        {
            // An older decline of this key finished earlier, so its retention ended no
            // later: none answers once this one is gone.
            g.declined = None;
        }
        self.tidy(&gone.body);
        let last = records.len() - 1;
        self.links.swap_remove(p);
        if p == last {
            return;
        }
        let (moved, from, to) = (&records[last], pos(last), pos(p));
        if moved.state.is_open() {
            let Link { prev, next } = self.links[p];
            self.relink(&moved.body, prev, next, to, to);
        }
        if declined_at(moved.state).is_some()
            && let Some(g) = self.group(&moved.body)
            && let Some((at, d)) = g.declined
            && d == from
        {
            g.declined = Some((at, to));
        }
    }

    /// The records at `p` and `q` trade places (`<[_]>::swap`): whatever pointed at one
    /// (list neighbours, the ends of its key's list, its key's latest decline) points at the
    /// other. The lists keep their order.
    pub(super) fn swap<T>(&mut self, records: &[Entry<T>], p: usize, q: usize) {
        let (p, q) = (pos(p), pos(q));
        if p == q {
            return;
        }
        let f = |i: u32| {
            if i == p {
                q
            } else if i == q {
                p
            } else {
                i
            }
        };
        let (lp, lq) = (self.links[p as usize], self.links[q as usize]);
        // Neighbours other than `p` and `q` (at most four, each fixed once: `f` undoes itself).
        let mut fixed = [NONE; 4];
        for (i, x) in [lp.prev, lp.next, lq.prev, lq.next].into_iter().enumerate() {
            if x == NONE || x == p || x == q || fixed[..i].contains(&x) {
                continue;
            }
            fixed[i] = x;
            let l = &mut self.links[x as usize];
            (l.prev, l.next) = (f(l.prev), f(l.next));
        }
        self.links[p as usize] = Link {
            prev: f(lq.prev),
            next: f(lq.next),
        };
        self.links[q as usize] = Link {
            prev: f(lp.prev),
            next: f(lp.next),
        };
        // The groups of the two keys (one group when the keys are the same).
        let (a, b) = (&records[p as usize].body, &records[q as usize].body);
        self.relabel(a, f);
        if !lifecycle::same_key(a, b) {
            self.relabel(b, f);
        }
    }

    /// Applies `f` to the positions `body`'s key's group holds.
    fn relabel<T>(&mut self, body: &Body<T>, f: impl Fn(u32) -> u32) {
        if let Some(g) = self.group(body) {
            (g.head, g.tail) = (f(g.head), f(g.tail));
            g.declined = g.declined.map(|(at, d)| (at, f(d)));
        }
    }

    /// The open record with `body`'s key and the earliest deadline (maybe past it: the
    /// caller closes those and asks again).
    pub(super) fn first_open<T>(&mut self, body: &Body<T>) -> Option<usize> {
        self.group(body)
            .map(|g| g.head)
            .filter(|&h| h != NONE)
            .map(|h| h as usize)
    }

    /// Gives back what `links` holds beyond `capacity` (as the records' `Vec` does).
    pub(super) fn shrink_to(&mut self, capacity: usize) {
        self.links.shrink_to(capacity);
    }

    /// The most recent stored decline with `body`'s key.
    pub(super) fn latest_decline<T>(&mut self, body: &Body<T>) -> Option<usize> {
        self.group(body)
            .and_then(|g| g.declined)
            .map(|(_, p)| p as usize)
    }
}

#[cfg(test)]
impl Keys {
    /// Panics unless the index describes `records` exactly: every open record in its key's
    /// list, the lists linked both ways in deadline order, nothing else linked, no empty
    /// group, and each key's latest decline where the index says, unless that decline is
    /// `lingering` (one a purge would forget: the index may forget it first).
    pub(super) fn check<T>(&mut self, records: &[Entry<T>], lingering: impl Fn(&Entry<T>) -> bool) {
        assert_eq!(self.links.len(), records.len(), "one link per record");
        // What the index should hold, from the records alone.
        let mut open: HashMap<String, usize> = HashMap::new();
        let mut latest: HashMap<String, (Timestamp, bool)> = HashMap::new();
        for e in records {
            self.encode(&e.body);
            let key = self.scratch.clone();
            if e.state.is_open() {
                *open.entry(key.clone()).or_default() += 1;
            }
            if let Some(at) = declined_at(e.state) {
                let l = latest.entry(key).or_insert((at, lingering(e)));
                if at > l.0 || (at == l.0 && !lingering(e)) {
                    *l = (at, lingering(e));
                }
            }
        }
        let keys: Vec<Box<str>> = self.groups.keys().cloned().collect();
        for key in keys {
            let g = &self.groups[&key];
            let (head, tail, declined) = (g.head, g.tail, g.declined);
            assert!(head != NONE || declined.is_some(), "no empty group");
            let (mut prev, mut at, mut linked) = (NONE, head, 0);
            while at != NONE {
                let e = &records[at as usize];
                assert!(e.state.is_open(), "only open records are linked");
                self.encode(&e.body);
                assert_eq!(self.scratch.as_str(), &*key, "a record in its key's list");
                assert_eq!(self.links[at as usize].prev, prev, "linked both ways");
                if prev != NONE {
                    let before = records[prev as usize].expires_at;
                    assert!(!lifecycle::joined_before(e.expires_at, before), "in order");
                }
                linked += 1;
                (prev, at) = (at, self.links[at as usize].next);
            }
            assert_eq!(tail, prev, "the tail ends the list");
            assert_eq!(
                open.remove(&*key).unwrap_or(0),
                linked,
                "each open record linked"
            );
            if let Some((at, p)) = declined {
                assert_eq!(
                    declined_at(records[p as usize].state),
                    Some(at),
                    "a decline"
                );
                let l = latest.remove(&*key).map(|l| l.0);
                assert_eq!(l, Some(at), "the latest decline");
            }
        }
        assert!(open.is_empty(), "every key with open records has a group");
        for (at, lingers) in latest.values() {
            assert!(
                lingers,
                "a decline at {at:?} forgotten though no purge would forget it"
            );
        }
    }
}
