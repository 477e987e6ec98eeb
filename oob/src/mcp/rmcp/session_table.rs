//! The table behind [`SessionOwners`](super::SessionOwners): who opened each session and
//! when it was last used, indexed so that no operation scans it. Entries are ordered by
//! last use, overall and per subject, so purging idle entries and evicting the least
//! recently used one take the oldest first (each entry is removed once: amortised constant
//! work per request, plus a logarithmic index update), and a subject's count is the size of
//! its own index.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use tokio::time::Instant;

use super::SessionRefused;
use crate::namespace::Namespace;

/// When an entry was last used, made unique by a sequence number (so entries used at the
/// same instant are ordered by use).
type Stamp = (Instant, u64);

pub(super) struct Table {
    sessions: HashMap<String, Entry>,
    /// Every entry by last use, least recent first.
    by_use: BTreeMap<Stamp, String>,
    /// Each subject's entries by last use; the sessions opened without one under `None`
    /// (they cannot be told apart, so they share one bound, `anonymous`).
    by_owner: HashMap<Option<Namespace>, BTreeMap<Stamp, String>>,
    /// The last sequence number given out.
    seq: u64,
    /// `initialize` requests (the only ones that open a session) in flight: each holds a slot.
    pub(super) opening: usize,
    /// The same, by the subject (or `None`) that sent them.
    opening_by: HashMap<Option<Namespace>, usize>,
    pub(super) capacity: usize,
    pub(super) per_owner: usize,
    /// The most sessions opened without a subject (at most the capacity).
    pub(super) anonymous: usize,
    pub(super) idle: Duration,
    pub(super) refuse: bool,
    /// Sessions this table dropped by itself (idle, or evicted for room) since the last
    /// [`take_dropped`](Self::take_dropped), kept only when `closer` is set: the
    /// middleware closes them in the MCP server with it.
    dropped: Vec<String>,
    pub(super) closer: Option<Closer>,
}

/// Closes a session in the MCP server (see [`SessionOwners::closing`](super::SessionOwners::closing)).
pub(super) type Closer = std::sync::Arc<dyn Fn(String) + Send + Sync>;

struct Entry {
    owner: Option<Namespace>,
    stamp: Stamp,
}

/// What [`Table::use_session`] found for a request naming a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Use {
    /// The requester opened it: its last use is now.
    Owner,
    /// Another subject (or none) opened it.
    Other,
    /// No entry (never opened here, closed, expired or evicted).
    Unknown,
}

impl Default for Table {
    fn default() -> Self {
        Self {
            sessions: HashMap::new(),
            by_use: BTreeMap::new(),
            by_owner: HashMap::new(),
            seq: 0,
            opening: 0,
            opening_by: HashMap::new(),
            capacity: super::SessionOwners::DEFAULT_CAPACITY,
            per_owner: super::SessionOwners::DEFAULT_PER_OWNER,
            anonymous: super::SessionOwners::DEFAULT_ANONYMOUS,
            idle: super::SessionOwners::DEFAULT_IDLE_TIMEOUT,
            refuse: false,
            dropped: Vec::new(),
            closer: None,
        }
    }
}

impl Table {
    /// How many entries there are (expired ones not yet purged included).
    pub(super) fn len(&self) -> usize {
        self.sessions.len()
    }

    fn stamp(&mut self, now: Instant) -> Stamp {
        self.seq += 1;
        (now, self.seq)
    }

    fn expired(&self, stamp: Stamp, now: Instant) -> bool {
        now.saturating_duration_since(stamp.0) >= self.idle
    }

    /// Removes the entry of `session`, from every index.
    pub(super) fn remove(&mut self, session: &str) {
        let Some(entry) = self.sessions.remove(session) else {
            return;
        };
        self.by_use.remove(&entry.stamp);
        if let Some(own) = self.by_owner.get_mut(&entry.owner) {
            own.remove(&entry.stamp);
            if own.is_empty() {
                self.by_owner.remove(&entry.owner);
            }
        }
    }

    /// Removes the entry of `session`, which the table drops by itself (idle, or evicted
    /// for room): remembered for [`take_dropped`](Self::take_dropped).
    fn drop_session(&mut self, session: String) {
        self.remove(&session);
        if self.closer.is_some() {
            self.dropped.push(session);
        }
    }

    /// The sessions dropped by the table itself since the last call.
    pub(super) fn take_dropped(&mut self) -> Vec<String> {
        std::mem::take(&mut self.dropped)
    }

    /// Removes the entries not used for the idle timeout, oldest first, stopping at the
    /// first one still in use.
    fn purge(&mut self, now: Instant) {
        while let Some((&stamp, session)) = self.by_use.first_key_value() {
            if !self.expired(stamp, now) {
                break;
            }
            let session = session.clone();
            self.drop_session(session);
        }
    }

    /// Evicts the least recently used entry; `false` when there is none.
    fn evict_idlest(&mut self) -> bool {
        let Some(session) = self.by_use.first_key_value().map(|(_, s)| s.clone()) else {
            return false;
        };
        self.drop_session(session);
        true
    }

    /// How many entries `owner`'s group may hold: `per_owner` for a subject, `anonymous`
    /// (at most the capacity) for the sessions opened without one.
    fn limit(&self, owner: Option<&Namespace>) -> usize {
        if owner.is_some() {
            self.per_owner
        } else {
            self.anonymous.min(self.capacity).max(1)
        }
    }

    /// The entries and in-flight openings of `owner`'s group.
    fn group(&self, owner: &Option<Namespace>) -> usize {
        self.by_owner.get(owner).map_or(0, BTreeMap::len)
            + self.opening_by.get(owner).copied().unwrap_or(0)
    }

    /// Evicts the least recently used entry of `owner`'s group; `false` when it has none.
    fn evict_idlest_of(&mut self, owner: &Option<Namespace>) -> bool {
        let Some(session) = self
            .by_owner
            .get(owner)
            .and_then(|own| own.first_key_value())
            .map(|(_, s)| s.clone())
        else {
            return false;
        };
        self.drop_session(session);
        true
    }

    /// A slot for an `initialize` request of `owner`, held while it is in flight (give it
    /// back with [`release`](Self::release)). When the table is full, the room comes from
    /// `owner`'s own group if that is at its limit (its insert would give one up anyway; a
    /// group at its limit with nothing stored, all of it in flight, is refused), otherwise
    /// from the least recently used entry: an opening never takes another group's session
    /// while its own group holds its share.
    pub(super) fn reserve(
        &mut self,
        owner: &Option<Namespace>,
        now: Instant,
    ) -> Result<(), SessionRefused> {
        self.purge(now);
        while self.sessions.len() + self.opening >= self.capacity {
            // A group at its limit (openings in flight counted) makes room from its own
            // entries only, and is refused when it has none stored: never another's.
            let own_full = self.group(owner) >= self.limit(owner.as_ref());
            let freed = !self.refuse
                && if own_full {
                    self.evict_idlest_of(owner)
                } else {
                    self.evict_idlest()
                };
            if !freed {
                return Err(SessionRefused::Full {
                    capacity: self.capacity,
                });
            }
            tracing::debug!(target: "oob", "MCP session owners full: evicted the least recently used session");
        }
        self.opening += 1;
        *self.opening_by.entry(owner.clone()).or_default() += 1;
        Ok(())
    }

    /// Gives back a slot [`reserve`](Self::reserve) gave `owner`.
    pub(super) fn release(&mut self, owner: &Option<Namespace>) {
        self.opening = self.opening.saturating_sub(1);
        if let Some(n) = self.opening_by.get_mut(owner) {
            *n -= 1;
            if *n == 0 {
                self.opening_by.remove(owner);
            }
        }
    }

    /// Records `session`, opened by a request that held no slot (not an `initialize`): room
    /// is made as [`reserve`](Self::reserve) makes it, so the capacity holds, and a full
    /// table set to refuse keeps its entries and refuses this one.
    pub(super) fn admit(
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

    /// Records `session` as opened by `owner`; an owner already holding `per_owner` entries
    /// gives up its least recently used one first (so one subject cannot fill the table and
    /// evict everyone else's sessions). Sessions opened without a subject cannot be told
    /// apart: together they hold at most `anonymous` entries, and give up their own least
    /// recently used one in the same way (so a flood of them evicts only theirs).
    pub(super) fn insert(&mut self, session: String, owner: Option<Namespace>, now: Instant) {
        self.remove(&session);
        let limit = self.limit(owner.as_ref());
        while let Some(own) = self.by_owner.get(&owner)
            && own.len() >= limit
        {
            let Some(idlest) = own.first_key_value().map(|(_, s)| s.clone()) else {
                break;
            };
            self.drop_session(idlest);
            tracing::debug!(target: "oob", "an MCP subject (or the anonymous ones) at its session limit: evicted its least recently used session");
        }
        let stamp = self.stamp(now);
        self.by_use.insert(stamp, session.clone());
        self.by_owner
            .entry(owner.clone())
            .or_default()
            .insert(stamp, session.clone());
        self.sessions.insert(session, Entry { owner, stamp });
    }

    /// A request of `subject` names `session`: whether it is the owner's (then its last use
    /// is now). An expired entry is removed and reported unknown.
    pub(super) fn use_session(
        &mut self,
        session: &str,
        subject: Option<&Namespace>,
        now: Instant,
    ) -> Use {
        let (stamp, owned) = match self.sessions.get(session) {
            None => return Use::Unknown,
            Some(e) => (e.stamp, e.owner.as_ref() == subject),
        };
        if self.expired(stamp, now) {
            self.drop_session(session.to_owned());
            return Use::Unknown;
        }
        if !owned {
            return Use::Other;
        }
        let fresh = self.stamp(now);
        if let Some(name) = self.by_use.remove(&stamp) {
            self.by_use.insert(fresh, name);
        }
        let owner = subject.cloned();
        if let Some(own) = self.by_owner.get_mut(&owner)
            && let Some(name) = own.remove(&stamp)
        {
            own.insert(fresh, name);
        }
        if let Some(entry) = self.sessions.get_mut(session) {
            entry.stamp = fresh;
        }
        Use::Owner
    }

    /// Checks that the indexes hold exactly the entries (for tests).
    #[cfg(test)]
    pub(super) fn assert_consistent(&self) {
        assert_eq!(self.by_use.len(), self.sessions.len());
        for (stamp, session) in &self.by_use {
            assert_eq!(self.sessions[session].stamp, *stamp);
        }
        let owned: usize = self.by_owner.values().map(BTreeMap::len).sum();
        assert_eq!(owned, self.sessions.len());
        assert_eq!(self.opening_by.values().sum::<usize>(), self.opening);
        for (owner, own) in &self.by_owner {
            let limit = self.limit(owner.as_ref());
            assert!(!own.is_empty() && own.len() <= limit);
            for (stamp, session) in own {
                let entry = &self.sessions[session];
                assert_eq!((&entry.owner, entry.stamp), (owner, *stamp));
            }
        }
    }
}

#[cfg(test)]
#[path = "session_table_tests.rs"]
mod tests;
