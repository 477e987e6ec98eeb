//! A finished row too long for one notification, sent in pieces and put back together.
//!
//! With zero retention a completion's event carries the row (the record is gone from the
//! tables, so a waiter on another replica learns the outcome only from the event), and a
//! notification carries at most 8,000 bytes. A row whose JSON is longer than
//! [`MAX_EVENT_ROW`] goes as `n` notifications `"<id> <k>/<n>:<piece>"` (`k` from 1),
//! queued in order to the store's one sender task, which sends them in order (in one
//! statement, or in consecutive ones when there are many: Postgres delivers a transaction's
//! notifications in the order they were sent, and transactions in commit order). The
//! listener puts a watched id's pieces back together ([`Pieces`]) and only the whole row,
//! once its last piece is in, is taken as the event's row, checked against the tables like
//! any other. A piece out of order, or beyond the listener's limits, makes the waiters
//! re-read instead (as an event without a row does). A row left unfinished (its waiter
//! gave up, or the sender dropped a later batch) goes with the next event of its id that
//! is not a piece, or of its id unwatched, or at the listener's next sweep once it is older
//! than the sweep period.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::listener::MAX_EVENT_ROW;
use crate::id::PendingId;

/// The longest piece of a row in one notification (the id and `k/n:` come on top).
const PIECE: usize = 6_900;

/// The most pieces one row is sent in (about 6.9 MB); a longer row goes as the id alone.
pub(crate) const MAX_PIECES: usize = 1_000;

/// The most rows a listener puts together at once, and the most bytes they may hold; a
/// row beyond either is dropped (its waiters re-read).
const MAX_PARTIAL: usize = 64;
const MAX_PARTIAL_BYTES: usize = 16 << 20;

/// The notifications of a finished row's event: one with the whole row when it fits,
/// otherwise its pieces, otherwise (longer than [`MAX_PIECES`]) the id alone.
pub(crate) fn event_payloads(id: &str, json: &str) -> Vec<String> {
    if json.len() < usize::try_from(MAX_EVENT_ROW).unwrap_or(0) {
        return vec![format!("{id} {json}")];
    }
    let mut pieces = Vec::new();
    let mut rest = json;
    while !rest.is_empty() {
        let mut end = rest.len().min(PIECE);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (piece, tail) = rest.split_at(end);
        pieces.push(piece);
        rest = tail;
    }
    if pieces.len() > MAX_PIECES {
        return vec![id.to_owned()];
    }
    let n = pieces.len();
    pieces
        .into_iter()
        .enumerate()
        .map(|(k, piece)| format!("{id} {}/{n}:{piece}", k + 1))
        .collect()
}

/// A piece of a row: its place `k` of `n`, and its text.
pub(crate) fn parse_piece(rest: &str) -> Option<(usize, usize, &str)> {
    let (place, piece) = rest.split_once(':')?;
    let (k, n) = place.split_once('/')?;
    let (k, n) = (k.parse::<usize>().ok()?, n.parse::<usize>().ok()?);
    (1..=n).contains(&k).then_some(())?;
    (n <= MAX_PIECES).then_some((k, n, piece))
}

/// What a row being put together has so far.
#[derive(Debug)]
struct Partial {
    n: usize,
    next: usize,
    json: String,
    /// When its first piece came.
    since: Instant,
}

/// The rows a listener is putting together, by id.
#[derive(Debug, Default)]
pub(crate) struct Pieces {
    partial: HashMap<PendingId, Partial>,
    /// The bytes the partial rows hold.
    bytes: usize,
}

/// What a piece gave.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    /// More pieces are to come: nothing to do yet.
    Pending,
    /// The whole row.
    Whole(String),
    /// Out of order, or beyond the limits: the row is dropped; the waiters re-read.
    Dropped,
}

impl Pieces {
    /// Adds piece `k` of `n` of `id`'s row.
    pub(crate) fn add(&mut self, id: PendingId, k: usize, n: usize, piece: &str) -> Piece {
        if k == 1 {
            self.take(id);
            if self.partial.len() >= MAX_PARTIAL {
                return Piece::Dropped;
            }
            self.partial.insert(
                id,
                Partial {
                    n,
                    next: 1,
                    json: String::new(),
                    since: Instant::now(),
                },
            );
        }
        let fits = self.bytes + piece.len() <= MAX_PARTIAL_BYTES;
        match self.partial.get_mut(&id) {
            Some(p) if p.n == n && p.next == k && fits => {
                p.json.push_str(piece);
                p.next += 1;
                self.bytes += piece.len();
            }
            _ => {
                self.take(id);
                return Piece::Dropped;
            }
        }
        if k < n {
            return Piece::Pending;
        }
        self.take(id).map_or(Piece::Dropped, Piece::Whole)
    }

    /// Removes `id`'s partial row, returning what it held.
    fn take(&mut self, id: PendingId) -> Option<String> {
        let p = self.partial.remove(&id)?;
        self.bytes -= p.json.len();
        Some(p.json)
    }

    /// Drops `id`'s partial row, if any (nobody waits for it any more).
    pub(crate) fn forget(&mut self, id: PendingId) {
        self.take(id);
    }

    /// Drops the partial rows whose first piece came `age` or more ago.
    pub(crate) fn sweep(&mut self, age: Duration) {
        let bytes = &mut self.bytes;
        self.partial.retain(|_, p| {
            let keep = p.since.elapsed() < age;
            if !keep {
                *bytes -= p.json.len();
            }
            keep
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rest(payload: &str) -> &str {
        payload.split_once(' ').map_or("", |(_, r)| r)
    }

    #[test]
    fn a_long_row_goes_in_pieces_and_comes_back_whole() {
        let id = PendingId::random();
        // Multi-byte characters across the piece boundaries.
        let json = format!("{{\"data\":\"{}\"}}", "é€x".repeat(5_000));
        let payloads = event_payloads(&id.to_string(), &json);
        assert!(payloads.len() > 2);
        assert!(payloads.iter().all(|p| p.len() < 8_000));
        let mut pieces = Pieces::default();
        let mut got = None;
        for p in &payloads {
            let (k, n, piece) = parse_piece(rest(p)).expect("a piece");
            match pieces.add(id, k, n, piece) {
                Piece::Pending => assert!(k < n),
                Piece::Whole(whole) => got = Some(whole),
                Piece::Dropped => panic!("dropped"),
            }
        }
        assert_eq!(got.as_deref(), Some(json.as_str()));
        // A short row is one payload with the row.
        assert_eq!(event_payloads("x", "{}"), vec!["x {}".to_owned()]);
    }

    #[test]
    fn pieces_out_of_order_or_beyond_the_limits_are_dropped() {
        let id = PendingId::random();
        let mut pieces = Pieces::default();
        assert_eq!(pieces.add(id, 2, 3, "b"), Piece::Dropped, "no first piece");
        assert_eq!(pieces.add(id, 1, 3, "a"), Piece::Pending);
        assert_eq!(pieces.add(id, 3, 3, "c"), Piece::Dropped, "a piece skipped");
        assert_eq!(
            pieces.add(id, 2, 3, "b"),
            Piece::Dropped,
            "dropped for good"
        );
        assert_eq!(pieces.add(id, 1, 2, "a"), Piece::Pending);
        assert_eq!(pieces.add(id, 2, 3, "b"), Piece::Dropped, "another count");
        for _ in 0..MAX_PARTIAL {
            assert_eq!(pieces.add(PendingId::random(), 1, 2, "a"), Piece::Pending);
        }
        assert_eq!(
            pieces.add(id, 1, 2, "a"),
            Piece::Dropped,
            "too many at once"
        );
        let mut pieces = Pieces::default();
        let big = "x".repeat(PIECE);
        let n = MAX_PARTIAL_BYTES / PIECE + 2;
        let dropped = (1..=n).find(|&k| pieces.add(id, k, n, &big) == Piece::Dropped);
        assert_eq!(
            dropped,
            Some(MAX_PARTIAL_BYTES / PIECE + 1),
            "too many bytes"
        );
        assert_eq!(pieces.bytes, 0, "what a dropped row held is given back");
        // Rows left unfinished go: by id, or by age.
        assert_eq!(pieces.add(id, 1, 2, "a"), Piece::Pending);
        pieces.forget(id);
        assert_eq!(pieces.add(id, 2, 2, "b"), Piece::Dropped);
        assert_eq!(pieces.add(id, 1, 2, "a"), Piece::Pending);
        pieces.sweep(Duration::from_secs(60));
        assert_eq!(pieces.partial.len(), 1, "young rows stay");
        pieces.sweep(Duration::ZERO);
        assert_eq!((pieces.partial.len(), pieces.bytes), (0, 0), "old rows go");
        for bad in ["", "1/2", "0/2:x", "3/2:x", "a/b:x", "1/1001:x"] {
            assert!(parse_piece(bad).is_none(), "{bad}");
        }
    }
}
