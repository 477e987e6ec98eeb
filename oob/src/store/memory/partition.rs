//! [`Table::insert`], [`Table::close`] and [`Table::remove`]: a namespace's open records
//! first.
//!
//! Each namespace keeps its records stored as open at the front of its `Vec` and its
//! finished ones after them (`Ns::open.n` is where they meet), so listing a namespace and
//! counting its open records read its open records only, however many finished ones it
//! retains. Keeping that costs one swap per insert, close or removal of an open record
//! (its id index and dedup index entries follow the move).

use super::super::{Record, RecordState};
use super::table::{Entry, Loc, Table, TableFull, index, to_record};
use crate::time::Timestamp;

impl<T> Table<T> {
    /// Inserts a new record (open ones among the open ones).
    pub(super) fn insert(&mut self, record: &Record<T>) -> Result<(), TableFull> {
        let n = self.namespace_for(&record.namespace)?;
        let ns = self.ns_index_mut(n);
        let p = ns.records.len();
        let at = Loc {
            ns: n,
            pos: index(p)?,
        };
        ns.records.push(Entry {
            id: record.id,
            body: record.body.clone(),
            created_at: record.created_at,
            expires_at: record.expires_at,
            state: record.state,
        });
        if let Some(keys) = &mut ns.keys {
            keys.push(&ns.records, p);
        }
        self.by_id.insert(record.id, at, record.body.clone());
        if record.state.is_open() {
            let ns = self.ns_index_mut(n);
            let first_finished = ns.open.n;
            ns.open.add(record.expires_at, record.id);
            self.open.add(record.expires_at);
            self.stored_open += 1;
            self.swap(n, p, first_finished);
        }
        Ok(())
    }

    /// Moves an open record to a finished state (the counts follow); returns where the
    /// record is now.
    pub(super) fn close(&mut self, at: Loc, to: RecordState) -> Loc {
        let ns = self.ns_index_mut(at.ns);
        let p = at.pos as usize;
        debug_assert!(p < ns.open.n && ns.records[p].state.is_open() && !to.is_open());
        if let Some(keys) = &mut ns.keys {
            keys.close(&ns.records, p, to);
        }
        let e = &mut ns.records[p];
        e.state = to;
        let expires_at = e.expires_at;
        ns.open.n -= 1;
        let last_open = ns.open.n;
        self.open.remove(expires_at);
        self.stored_open -= 1;
        self.swap(at.ns, p, last_open);
        Loc {
            ns: at.ns,
            pos: index(last_open).unwrap_or(u32::MAX),
        }
    }

    /// Removes a record from every index; returns it as a record in its state as of `now`.
    pub(super) fn remove(&mut self, at: Loc, now: Timestamp) -> Record<T> {
        let ns = self.ns_index_mut(at.ns);
        let was_open = ns.records[at.pos as usize].state.is_open();
        let mut p = at.pos as usize;
        if was_open {
            // To the end of the open ones, which then end before it.
            ns.open.n -= 1;
            let last_open = ns.open.n;
            self.swap(at.ns, p, last_open);
            p = last_open;
        }
        let ns = self.ns_index_mut(at.ns);
        if let Some(keys) = &mut ns.keys {
            keys.remove(&ns.records, p);
        }
        let entry = ns.records.swap_remove(p);
        // The last record (finished, or this one), if it was not this one, moved into its
        // place.
        let moved = ns.records.get(p).map(|m| m.id);
        let last = Loc {
            ns: at.ns,
            pos: index(ns.records.len()).unwrap_or(u32::MAX),
        };
        // An emptied namespace keeps its index until the next purge: a namespace whose
        // pendings come and go is not re-hashed and re-allocated every time.
        let record = to_record(&entry, &ns.namespace, now, &entry.body);
        if was_open {
            self.open.remove(entry.expires_at);
            self.stored_open -= 1;
        }
        let here = Loc {
            ns: at.ns,
            pos: index(p).unwrap_or(u32::MAX),
        };
        self.by_id.remove(&entry.id, here);
        if let Some(m) = moved {
            self.by_id.moved(&m, last, here);
        }
        drop(entry);
        record
    }

    /// The records at positions `p` and `q` of namespace `n` trade places; the indexes
    /// follow.
    fn swap(&mut self, n: u32, p: usize, q: usize) {
        if p == q {
            return;
        }
        let ns = self.ns_index_mut(n);
        if let Some(keys) = &mut ns.keys {
            keys.swap(&ns.records, p, q);
        }
        ns.records.swap(p, q);
        let (now_at_p, now_at_q) = (ns.records[p].id, ns.records[q].id);
        let loc = |pos: usize| Loc {
            ns: n,
            pos: index(pos).unwrap_or(u32::MAX),
        };
        // Through a location no record has, so the two are never at one location (the id
        // index tells ids sharing their folded bits apart by location).
        let aside = Loc {
            ns: n,
            pos: u32::MAX,
        };
        self.by_id.moved(&now_at_q, loc(p), aside);
        self.by_id.moved(&now_at_p, loc(q), loc(p));
        self.by_id.moved(&now_at_q, aside, loc(q));
        if self.purging.is_empty() {
            return;
        }
        // (The namespace's slot directly: `ns_index` would borrow the whole table.)
        let Some(Some(ns)) = self.ns.get(n as usize) else {
            return;
        };
        let records = &ns.records;
        for purge in &mut self.purging {
            purge.note(n, &records[q], p, q);
            purge.note(n, &records[p], q, p);
        }
    }
}

#[cfg(test)]
impl<T> Table<T> {
    /// Panics unless every index and count describes the records exactly (tests call it
    /// after each operation), `lingering` saying which records a purge would forget (the
    /// dedup index may forget a decline before the purge reaches it).
    pub(super) fn check(&mut self, lingering: impl Fn(&Entry<T>) -> bool) {
        let mut total = 0;
        let mut open = 0;
        for n in 0..self.ns.len() {
            let Some(ns) = self.ns[n].as_mut() else {
                continue;
            };
            let (records, split) = (&ns.records, ns.open.n);
            assert!(
                records[..split].iter().all(|e| e.state.is_open()),
                "open first"
            );
            assert!(
                records[split..].iter().all(|e| !e.state.is_open()),
                "then finished"
            );
            if let Some(keys) = &mut ns.keys {
                keys.check(records, &lingering);
            }
            if let Some(due) = &ns.open.due {
                let queued = |e: &Entry<T>| due.holds(e.expires_at, e.id);
                assert!(
                    records[..split].iter().all(queued),
                    "each open record queued"
                );
            }
            let earliest = records[..split].iter().map(|e| e.expires_at).min();
            assert!(
                earliest.is_none_or(|e| ns.open.earliest <= e),
                "a lower bound"
            );
            total += records.len();
            open += split;
            let ns = self.ns[n].as_ref().expect("namespace");
            for (p, e) in ns.records.iter().enumerate() {
                let at = Loc {
                    ns: index(n).expect("n"),
                    pos: index(p).expect("p"),
                };
                assert_eq!(self.slot(&e.id), Some(at), "the id index finds each record");
            }
        }
        assert_eq!(self.len(), total, "one id per record");
        assert_eq!(self.stored_open, open, "open records counted");
    }
}
