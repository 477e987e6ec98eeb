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
    /// Each subject's entries by last use (sessions opened without one are not indexed:
    /// they cannot be told apart and are bounded by the capacity alone).
    by_owner: HashMap<Namespace, BTreeMap<Stamp, String>>,
    /// The last sequence number given out.
    seq: u64,
    /// `initialize` requests (the only ones that open a session) in flight: each holds a slot.
    pub(super) opening: usize,
    pub(super) capacity: usize,
    pub(super) per_owner: usize,
    pub(super) idle: Duration,
    pub(super) refuse: bool,
}

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
            capacity: super::SessionOwners::DEFAULT_CAPACITY,
            per_owner: super::SessionOwners::DEFAULT_PER_OWNER,
            idle: super::SessionOwners::DEFAULT_IDLE_TIMEOUT,
            refuse: false,
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
        if let Some(owner) = entry.owner
            && let Some(own) = self.by_owner.get_mut(&owner)
        {
            own.remove(&entry.stamp);
            if own.is_empty() {
                self.by_owner.remove(&owner);
            }
        }
    }

    /// Removes the entries not used for the idle timeout, oldest first, stopping at the
    /// first one still in use.
    fn purge(&mut self, now: Instant) {
        while let Some((&stamp, session)) = self.by_use.first_key_value() {
            if !self.expired(stamp, now) {
                break;
            }
            let session = session.clone();
            self.remove(&session);
        }
    }

    /// Evicts the least recently used entry; `false` when there is none.
    fn evict_idlest(&mut self) -> bool {
        let Some(session) = self.by_use.first_key_value().map(|(_, s)| s.clone()) else {
            return false;
        };
        self.remove(&session);
        true
    }

    /// A slot for an `initialize` request, held while it is in flight.
    pub(super) fn reserve(&mut self, now: Instant) -> Result<(), SessionRefused> {
        self.purge(now);
        while self.sessions.len() + self.opening >= self.capacity {
            if self.refuse || !self.evict_idlest() {
                return Err(SessionRefused::Full {
                    capacity: self.capacity,
                });
            }
            tracing::debug!(target: "oob", "MCP session owners full: evicted the least recently used session");
        }
        self.opening += 1;
        Ok(())
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
        self.reserve(now)?;
        self.opening -= 1;
        self.insert(session, owner, now);
        Ok(())
    }

    /// Records `session` as opened by `owner`; an owner already holding `per_owner` entries
    /// gives up its least recently used one first (so one subject cannot fill the table and
    /// evict everyone else's sessions). Sessions opened without a subject are bounded by the
    /// capacity alone: they cannot be told apart.
    pub(super) fn insert(&mut self, session: String, owner: Option<Namespace>, now: Instant) {
        self.remove(&session);
        if let Some(owner) = &owner {
            while let Some(own) = self.by_owner.get(owner)
                && own.len() >= self.per_owner
            {
                let Some(idlest) = own.first_key_value().map(|(_, s)| s.clone()) else {
                    break;
                };
                self.remove(&idlest);
                tracing::debug!(target: "oob", "an MCP subject at its session limit: evicted its least recently used session");
            }
        }
        let stamp = self.stamp(now);
        self.by_use.insert(stamp, session.clone());
        if let Some(owner) = &owner {
            self.by_owner
                .entry(owner.clone())
                .or_default()
                .insert(stamp, session.clone());
        }
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
            self.remove(session);
            return Use::Unknown;
        }
        if !owned {
            return Use::Other;
        }
        let fresh = self.stamp(now);
        if let Some(name) = self.by_use.remove(&stamp) {
            self.by_use.insert(fresh, name);
        }
        if let Some(owner) = subject
            && let Some(own) = self.by_owner.get_mut(owner)
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
        let expected = self.sessions.values().filter(|e| e.owner.is_some()).count();
        assert_eq!(owned, expected);
        for (owner, own) in &self.by_owner {
            assert!(!own.is_empty() && own.len() <= self.per_owner);
            for (stamp, session) in own {
                let entry = &self.sessions[session];
                assert_eq!((entry.owner.as_ref(), entry.stamp), (Some(owner), *stamp));
            }
        }
    }
}

#[cfg(test)]
#[path = "session_table_tests.rs"]
mod tests;
