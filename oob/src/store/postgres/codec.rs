//! The row codec: a [`Record`] as the `pendings` table holds it, and back.
//!
//! Times are milliseconds since the Unix epoch on the manager's clock (`bigint`), the id a
//! `uuid` (read back as text), the payload JSON in a `text` column (not `jsonb`, which
//! refuses `\u0000` and reorders keys), the state `open`, `completed`, `cancelled` (with
//! the cancel reason) or `expired`, and when it finished. An open row past its deadline reads
//! as expired.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sqlx::Row as _;
use sqlx::postgres::PgRow;

use super::error::PgError;
use crate::CodecError;
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::state::CancelReason;
use crate::store::{Body, Finished, Record, RecordState, StoreError};
use crate::time::Timestamp;

/// The columns [`Row::read`] reads, in order, as a `SELECT` list (alias `p`).
pub(crate) const COLS: &str = "p.id::text AS id, p.namespace, p.alias, p.resource, p.elicit_id, \
     p.data, p.created_at, p.expires_at, p.state, p.reason, p.finished_at";

/// A row as read from the table (or carried in a change event), decoded on demand.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Row {
    pub(crate) id: String,
    pub(crate) namespace: String,
    pub(crate) alias: Option<String>,
    pub(crate) resource: Option<String>,
    pub(crate) elicit_id: Option<String>,
    pub(crate) data: String,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) state: String,
    pub(crate) reason: Option<String>,
    pub(crate) finished_at: Option<i64>,
    /// The record's kind, in a change event's row only (every kind of a schema shares its
    /// channel: a listener takes a row only of its own kind; a row read from the table is
    /// of the kind the query asked for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<String>,
}

impl Row {
    /// Reads the eleven [`COLS`] starting at column `at`.
    pub(crate) fn read(r: &PgRow, at: usize) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: r.try_get(at)?,
            namespace: r.try_get(at + 1)?,
            alias: r.try_get(at + 2)?,
            resource: r.try_get(at + 3)?,
            elicit_id: r.try_get(at + 4)?,
            data: r.try_get(at + 5)?,
            created_at: r.try_get(at + 6)?,
            expires_at: r.try_get(at + 7)?,
            state: r.try_get(at + 8)?,
            reason: r.try_get(at + 9)?,
            finished_at: r.try_get(at + 10)?,
            kind: None,
        })
    }

    /// How this row, which is not open (or is past its deadline at `now`), finished.
    pub(crate) fn finished_as(&self) -> Finished {
        match (self.state.as_str(), self.reason.as_deref()) {
            ("completed", _) => Finished::Completed,
            ("cancelled", Some("declined")) => Finished::Declined,
            ("cancelled", _) => Finished::Cancelled,
            _ => Finished::Expired,
        }
    }

    /// Whether the row is open at `now`.
    pub(crate) fn is_open_at(&self, now: i64) -> bool {
        self.state == "open" && self.expires_at > now
    }

    /// The record, in its state as of `now`.
    pub(crate) fn decode<T: DeserializeOwned>(
        self,
        now: Timestamp,
    ) -> Result<Record<T>, StoreError> {
        let id: PendingId = self.id.parse().map_err(|_| PgError::malformed("id"))?;
        let namespace =
            Namespace::new(&self.namespace).map_err(|_| PgError::malformed("namespace"))?;
        let time = |what: &'static str, v: i64| {
            u64::try_from(v)
                .map(Timestamp::from_millis)
                .map_err(|_| PgError::malformed(what))
        };
        let created_at = time("created_at", self.created_at)?;
        let expires_at = time("expires_at", self.expires_at)?;
        let finished_at = || {
            self.finished_at
                .ok_or_else(|| PgError::malformed("finished_at"))
                .and_then(|v| time("finished_at", v))
        };
        let state = match self.state.as_str() {
            "open" if expires_at <= now => RecordState::Expired { at: expires_at },
            "open" => RecordState::Open,
            // An expired row moved out of `pendings` (by a create at the namespace bound).
            "expired" => RecordState::Expired { at: expires_at },
            "completed" => RecordState::Completed { at: finished_at()? },
            "cancelled" => RecordState::Cancelled {
                at: finished_at()?,
                reason: match self.reason.as_deref() {
                    Some("cancelled") => CancelReason::Cancelled,
                    Some("declined") => CancelReason::Declined,
                    _ => return Err(PgError::malformed("reason")),
                },
            },
            _ => return Err(PgError::malformed("state")),
        };
        let data: T = serde_json::from_str(&self.data)
            .map_err(|e| StoreError::Decode(Box::new(CodecError::decoding(&e))))?;
        Ok(Record::new(
            id,
            namespace,
            created_at,
            expires_at,
            state,
            Arc::new(Body::new(data, self.alias, self.resource, self.elicit_id)),
        ))
    }
}

impl Row {
    /// The row of a record (for a change event sent after a deferred wake-up).
    pub(crate) fn from_record<T: Serialize>(record: &Record<T>) -> Result<Self, StoreError> {
        let new = NewRow::encode(record)?;
        let (state, reason, finished_at) = match record.state {
            RecordState::Open | RecordState::Expired { .. } => ("open", None, None),
            RecordState::Completed { at } => ("completed", None, Some(ms(at))),
            RecordState::Cancelled { at, reason } => (
                "cancelled",
                Some(reason_str(reason).to_owned()),
                Some(ms(at)),
            ),
        };
        Ok(Self {
            id: new.id,
            namespace: new.namespace,
            alias: new.alias,
            resource: new.resource,
            elicit_id: new.elicit_id,
            data: new.data,
            created_at: new.created_at,
            expires_at: new.expires_at,
            state: state.to_owned(),
            reason,
            finished_at,
            kind: None,
        })
    }
}

/// A new open record ready to be inserted: its payload already encoded.
#[derive(Debug)]
pub(crate) struct NewRow {
    pub(crate) id: String,
    pub(crate) namespace: String,
    pub(crate) alias: Option<String>,
    pub(crate) resource: Option<String>,
    pub(crate) elicit_id: Option<String>,
    pub(crate) data: String,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
}

impl NewRow {
    pub(crate) fn encode<T: Serialize>(record: &Record<T>) -> Result<Self, StoreError> {
        let data = serde_json::to_string(record.body.data())
            .map_err(|e| StoreError::Encode(Box::new(CodecError::encoding(&e))))?;
        Ok(Self {
            id: record.id.to_string(),
            namespace: record.namespace.as_str().to_owned(),
            alias: record.body.alias().map(str::to_owned),
            resource: record.body.resource().map(str::to_owned),
            elicit_id: record.body.elicit_id().map(str::to_owned),
            data,
            created_at: ms(record.created_at),
            expires_at: ms(record.expires_at),
        })
    }
}

/// A time as stored.
pub(crate) fn ms(t: Timestamp) -> i64 {
    i64::try_from(t.as_millis()).unwrap_or(i64::MAX)
}

/// The text form of a cancel reason.
pub(crate) fn reason_str(reason: CancelReason) -> &'static str {
    match reason {
        CancelReason::Cancelled => "cancelled",
        CancelReason::Declined => "declined",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: &str, reason: Option<&str>, finished_at: Option<i64>) -> Row {
        Row {
            id: PendingId::random().to_string(),
            namespace: "alice".into(),
            alias: Some("gh".into()),
            resource: None,
            elicit_id: Some("e".into()),
            data: "7".into(),
            created_at: 1_000,
            expires_at: 2_000,
            state: state.into(),
            reason: reason.map(str::to_owned),
            finished_at,
            kind: None,
        }
    }

    #[test]
    fn every_state_decodes() {
        let now = Timestamp::from_millis(1_500);
        let open: Record<u32> = row("open", None, None).decode(now).expect("open");
        assert_eq!(open.state, RecordState::Open);
        assert_eq!(*open.body.data(), 7);
        assert_eq!(open.body.alias(), Some("gh"));
        let late = Timestamp::from_millis(2_000);
        let expired: Record<u32> = row("open", None, None).decode(late).expect("expired");
        assert_eq!(
            expired.state,
            RecordState::Expired {
                at: Timestamp::from_millis(2_000)
            }
        );
        let done: Record<u32> = row("completed", None, Some(1_200))
            .decode(now)
            .expect("done");
        assert_eq!(
            done.state,
            RecordState::Completed {
                at: Timestamp::from_millis(1_200)
            }
        );
        let declined = row("cancelled", Some("declined"), Some(1_300));
        assert_eq!(declined.finished_as(), Finished::Declined);
        let declined: Record<u32> = declined.decode(now).expect("declined");
        assert!(matches!(
            declined.state,
            RecordState::Cancelled {
                reason: CancelReason::Declined,
                ..
            }
        ));
    }

    #[test]
    fn malformed_rows_are_decode_errors_not_panics() {
        let now = Timestamp::from_millis(1_500);
        let mut bad_id = row("open", None, None);
        bad_id.id = "not-a-uuid".into();
        let mut bad_ns = row("open", None, None);
        bad_ns.namespace = String::new();
        let mut bad_time = row("open", None, None);
        bad_time.created_at = -1;
        let mut bad_data = row("open", None, None);
        bad_data.data = "{".into();
        for r in [
            bad_id,
            bad_ns,
            bad_time,
            bad_data,
            row("weird", None, None),
            row("completed", None, None),
            row("cancelled", Some("other"), Some(1)),
        ] {
            let out: Result<Record<u32>, _> = r.decode(now);
            assert!(matches!(out, Err(StoreError::Decode(_))), "{out:?}");
        }
    }
}
