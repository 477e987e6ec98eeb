//! [`Ids`]: the id index, from a pending's id to where its record is, with the record's body.
//!
//! A plain `HashMap<PendingId, Loc>` would do; this type exists for `get`'s speed (issue 14's
//! target, measured by `MEMORY_BENCH=get cargo bench -p oob --bench memory_store`, see
//! BENCHMARKS.md), and keeps what it changes here:
//! - **The body beside the location.** A get finds the slot, then needs the record (state and
//!   times, in its namespace's block) and the body (whose count it increments). With the body
//!   pointer in the slot both loads start together ([`Ids::get`] reads the body's count
//!   first, a plain load, before the atomic increment that would otherwise wait for the
//!   record): one cache miss after the slot instead of two in a row, as in a map holding
//!   whole records. Shuffled gets over 100,000 records went from 1.27x the naive map to 1.00x.
//! - **Keyed by the id's 64 folded bits** (8 bytes, not 16), which pays for that pointer: a
//!   bucket stays 24 bytes, so the heap per pending does not grow. Ids are drawn at random
//!   by the manager, so two stored ids share their folded bits about once in 2^64 pairs;
//!   when they do, the record's own id tells them apart and the later one is kept in
//!   `spill`, keyed by the whole id. Every operation stays one or two map lookups.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Arc;

use super::super::Body;
use super::table::Loc;
use super::warm::warm;
use crate::id::PendingId;
use crate::namespace::PrehashedBuild;

/// Where a record is, and its body.
#[derive(Debug)]
pub(super) struct Slot<T> {
    pub(super) at: Loc,
    pub(super) body: Arc<Body<T>>,
}

/// The id index (see the module docs).
#[derive(Debug)]
pub(super) struct Ids<T> {
    by_bits: HashMap<u64, Slot<T>, PrehashedBuild>,
    /// Ids whose folded bits another stored id already has.
    spill: HashMap<PendingId, Slot<T>, PrehashedBuild>,
}

impl<T> Default for Ids<T> {
    fn default() -> Self {
        Self {
            by_bits: HashMap::default(),
            spill: HashMap::default(),
        }
    }
}

/// The id's 64 folded bits (what its `Hash` writes).
fn bits(id: &PendingId) -> u64 {
    PrehashedBuild::default().hash_one(id)
}

impl<T> Ids<T> {
    /// How many ids the index holds.
    pub(super) fn len(&self) -> usize {
        self.by_bits.len() + self.spill.len()
    }

    /// The slot of `id`; `id_at` reads the id of the record stored at a location.
    pub(super) fn get(
        &self,
        id: &PendingId,
        id_at: impl Fn(Loc) -> Option<PendingId>,
    ) -> Option<&Slot<T>> {
        if let Some(s) = self.by_bits.get(&bits(id)) {
            // Load the body now, with the record, not after it (see the module docs).
            warm(&s.body);
            if id_at(s.at) == Some(*id) {
                return Some(s);
            }
        }
        if self.spill.is_empty() {
            None
        } else {
            self.spill.get(id)
        }
    }

    /// Adds `id` (not in the index) at `at`.
    pub(super) fn insert(&mut self, id: PendingId, at: Loc, body: Arc<Body<T>>) {
        let slot = Slot { at, body };
        match self.by_bits.entry(bits(&id)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(slot);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.spill.insert(id, slot);
            }
        }
    }

    /// The slot of `id`, stored at `at`, to change.
    fn slot_mut(&mut self, id: &PendingId, at: Loc) -> Option<&mut Slot<T>> {
        match self.by_bits.get_mut(&bits(id)) {
            // Two records are never at one location.
            Some(s) if s.at == at => Some(s),
            _ => self.spill.get_mut(id),
        }
    }

    /// Removes `id`, stored at `at`.
    pub(super) fn remove(&mut self, id: &PendingId, at: Loc) {
        let b = bits(id);
        if self.by_bits.get(&b).is_some_and(|s| s.at == at) {
            self.by_bits.remove(&b);
        } else {
            self.spill.remove(id);
        }
    }

    /// Records that `id` moved from `from` to `to`.
    pub(super) fn moved(&mut self, id: &PendingId, from: Loc, to: Loc) {
        if let Some(s) = self.slot_mut(id, from) {
            s.at = to;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(bytes: [u8; 16]) -> PendingId {
        PendingId::from_bytes(bytes).expect("v4")
    }

    /// Two ids with the same folded bits (the last bit of each half flipped) are both found,
    /// moved and removed, whichever of them came first.
    #[test]
    fn ids_sharing_their_folded_bits_stay_apart() {
        let a_bytes = [7, 1, 2, 3, 4, 5, 0x46, 8, 0x89, 9, 10, 11, 12, 13, 14, 16];
        let mut b_bytes = a_bytes;
        b_bytes[7] ^= 1;
        b_bytes[15] ^= 1;
        let (a, b) = (id(a_bytes), id(b_bytes));
        assert_ne!(a, b);
        assert_eq!(bits(&a), bits(&b));
        let body = Arc::new(Body::new((), None, None, None));
        let loc = |pos| Loc { ns: 0, pos };
        for order in [[a, b], [b, a]] {
            let mut ids = Ids::default();
            let mut at = vec![order[0], order[1]];
            ids.insert(order[0], loc(0), body.clone());
            ids.insert(order[1], loc(1), body.clone());
            let id_at = |at: &Vec<PendingId>| {
                let at = at.clone();
                move |l: Loc| at.get(l.pos as usize).copied()
            };
            assert_eq!(ids.len(), 2);
            assert_eq!(
                ids.get(&a, id_at(&at)).map(|s| s.at.pos),
                Some(u32::from(at[1] == a))
            );
            assert_eq!(
                ids.get(&b, id_at(&at)).map(|s| s.at.pos),
                Some(u32::from(at[1] == b))
            );
            // Remove the first; the second moves into its place (as a swap_remove does).
            ids.remove(&order[0], loc(0));
            ids.moved(&order[1], loc(1), loc(0));
            at.swap_remove(0);
            assert!(ids.get(&order[0], id_at(&at)).is_none());
            assert_eq!(ids.get(&order[1], id_at(&at)).map(|s| s.at), Some(loc(0)));
            ids.remove(&order[1], loc(0));
            assert_eq!(ids.len(), 0);
            assert!(ids.get(&order[1], id_at(&vec![])).is_none());
        }
    }
}
