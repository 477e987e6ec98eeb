//! Rows: how a [`Record`] is written to and read from the table.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, Row as SqlRow, ToSql, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::super::lifecycle::StateCode;
use super::super::{Body, Finished, Record, RecordState, StoreError};
use crate::CodecError;
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::time::Timestamp;

/// A stored value that does not decode.
#[derive(Debug, thiserror::Error)]
#[error("invalid stored {what}")]
pub struct BadColumn {
    what: &'static str,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl BadColumn {
    fn new(what: &'static str) -> Self {
        Self { what, source: None }
    }

    fn with(what: &'static str, e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            what,
            source: Some(Box::new(e)),
        }
    }
}

pub(super) fn ms(t: Timestamp) -> i64 {
    i64::try_from(t.as_millis()).unwrap_or(i64::MAX)
}

/// The `state` and `reason` columns of a state code (`declined` is stored as a cancel
/// with reason `declined`).
pub(super) fn state_columns(code: StateCode) -> (&'static str, Option<&'static str>) {
    match code {
        StateCode::Cancelled => ("cancelled", Some("cancelled")),
        StateCode::Declined => ("cancelled", Some("declined")),
        other => (other.as_str(), None),
    }
}

/// A row as read from the table, decoded into a [`Record`] on the caller's task.
#[derive(Debug, Clone)]
pub(super) struct Row {
    pub(super) id: Vec<u8>,
    pub(super) namespace: String,
    alias: Option<String>,
    resource: Option<String>,
    elicit_id: Option<String>,
    data: String,
    created_at: i64,
    pub(super) expires_at: i64,
    pub(super) state: String,
    pub(super) reason: Option<String>,
    pub(super) finished_at: Option<i64>,
}

fn time(what: &'static str, v: i64) -> Result<Timestamp, BadColumn> {
    u64::try_from(v)
        .map(Timestamp::from_millis)
        .map_err(|e| BadColumn::with(what, e))
}

impl Row {
    /// The row of pending `id` of this kind, if any.
    pub(super) fn by_id(
        conn: &Connection,
        id: &[u8],
        kind: &str,
    ) -> rusqlite::Result<Option<Self>> {
        conn.prepare_cached(concat!(
            "SELECT ",
            cols!(),
            " FROM oob_pendings WHERE id = ?1 AND kind = ?2"
        ))?
        .query_row(params![id, kind], Self::read)
        .optional()
    }

    pub(super) fn read(r: &SqlRow<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            namespace: r.get(1)?,
            alias: r.get(2)?,
            resource: r.get(3)?,
            elicit_id: r.get(4)?,
            data: r.get(5)?,
            created_at: r.get(6)?,
            expires_at: r.get(7)?,
            state: r.get(8)?,
            reason: r.get(9)?,
            finished_at: r.get(10)?,
        })
    }

    fn code(&self) -> Result<StateCode, BadColumn> {
        match (self.state.as_str(), self.reason.as_deref()) {
            ("cancelled", Some("cancelled")) => Ok(StateCode::Cancelled),
            ("cancelled", Some("declined")) => Ok(StateCode::Declined),
            ("cancelled", _) => Err(BadColumn::new("reason")),
            (s, _) => StateCode::parse(s).map_err(|e| BadColumn::with("state", e)),
        }
    }

    fn decode_state(&self, now: Timestamp) -> Result<RecordState, BadColumn> {
        let expires_at = time("expires_at", self.expires_at)?;
        let finished_at = self
            .finished_at
            .map(|v| time("finished_at", v))
            .transpose()?;
        self.code()?
            .state(finished_at, expires_at, now)
            .map_err(|e| BadColumn::with("finished_at", e))
    }

    /// The row's state as of `now`, or `None` when it does not decode.
    pub(super) fn state_at(&self, now: Timestamp) -> Option<RecordState> {
        self.decode_state(now).ok()
    }

    /// The row's state as of `now`, or `None` when a column [`decode`](Self::decode) reads
    /// does not decode: any but the payload, whose type the caller knows.
    pub(super) fn checked_state_at(&self, now: Timestamp) -> Option<RecordState> {
        let fine = id_of(&self.id).is_some()
            && Namespace::new(&self.namespace).is_ok()
            && time("created_at", self.created_at).is_ok();
        fine.then(|| self.state_at(now)).flatten()
    }

    /// The row's payload as a `T` (a transition decodes it before it writes, so one that
    /// cannot be read is not finished by the reader that cannot).
    pub(super) fn payload<T: DeserializeOwned>(&self) -> Result<T, StoreError> {
        serde_json::from_str(&self.data).map_err(|e| {
            StoreError::Decode(Box::new(BadColumn::with(
                "payload",
                CodecError::decoding(&e),
            )))
        })
    }

    pub(super) fn decode<T: DeserializeOwned>(
        self,
        now: Timestamp,
    ) -> Result<Record<T>, StoreError> {
        let data = self.payload()?;
        self.with_payload(now, data)
    }

    /// The record of this row with its payload `data`, already decoded.
    pub(super) fn with_payload<T>(self, now: Timestamp, data: T) -> Result<Record<T>, StoreError> {
        let bad = |b: BadColumn| StoreError::Decode(Box::new(b));
        let bytes: [u8; 16] = self
            .id
            .as_slice()
            .try_into()
            .map_err(|_| bad(BadColumn::new("id")))?;
        let id = PendingId::from_bytes(bytes).map_err(|e| bad(BadColumn::with("id", e)))?;
        let namespace =
            Namespace::new(&self.namespace).map_err(|e| bad(BadColumn::with("namespace", e)))?;
        let created_at = time("created_at", self.created_at).map_err(bad)?;
        let expires_at = time("expires_at", self.expires_at).map_err(bad)?;
        let state = self.decode_state(now).map_err(bad)?;
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

/// A record ready to be written: the payload already encoded.
#[derive(Debug)]
pub(super) struct NewRow {
    id: PendingId,
    pub(super) namespace: String,
    pub(super) alias: Option<String>,
    pub(super) resource: Option<String>,
    elicit_id: Option<String>,
    data: String,
    created_at: i64,
    expires_at: i64,
    state: &'static str,
    reason: Option<&'static str>,
    finished_at: Option<i64>,
}

/// The insert statement's head (a macro so statements are `concat!`ed at compile time).
macro_rules! insert {
    () => {
        "INSERT INTO oob_pendings (id, namespace, kind, alias, resource, elicit_id, data, \
         created_at, expires_at, state, reason, finished_at) "
    };
}

impl NewRow {
    pub(super) fn encode<T: Serialize>(record: &Record<T>) -> Result<Self, StoreError> {
        let data = serde_json::to_string(record.body.data())
            .map_err(|e| StoreError::Encode(Box::new(CodecError::encoding(&e))))?;
        let (code, finished_at) = StateCode::of(record.state);
        let (state, reason) = state_columns(code);
        Ok(Self {
            id: record.id,
            namespace: record.namespace.as_str().to_owned(),
            alias: record.body.alias().map(str::to_owned),
            resource: record.body.resource().map(str::to_owned),
            elicit_id: record.body.elicit_id().map(str::to_owned),
            data,
            created_at: ms(record.created_at),
            expires_at: ms(record.expires_at),
            state,
            reason,
            finished_at: finished_at.map(ms),
        })
    }

    /// The row's twelve columns as statement parameters `?1` … `?12`.
    fn values<'a>(&'a self, kind: &'a &'a str) -> [&'a dyn ToSql; 12] {
        [
            self.id.as_bytes(),
            &self.namespace,
            kind,
            &self.alias,
            &self.resource,
            &self.elicit_id,
            &self.data,
            &self.created_at,
            &self.expires_at,
            &self.state,
            &self.reason,
            &self.finished_at,
        ]
    }

    /// Inserts the row; a duplicate id fails on the primary key.
    pub(super) fn insert(&self, conn: &Connection, kind: &str) -> rusqlite::Result<usize> {
        conn.prepare_cached(concat!(
            insert!(),
            "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        ))?
        .execute(self.values(&kind))
    }
}

/// How a row that is not open (or past its deadline) finished.
pub(super) fn finished_as(row: &Row) -> Finished {
    match (row.state.as_str(), row.reason.as_deref()) {
        ("completed", _) => Finished::Completed,
        ("cancelled", Some("declined")) => Finished::Declined,
        ("cancelled", _) => Finished::Cancelled,
        _ => Finished::Expired,
    }
}

pub(super) fn id_of(bytes: &[u8]) -> Option<PendingId> {
    <[u8; 16]>::try_from(bytes)
        .ok()
        .and_then(|b| PendingId::from_bytes(b).ok())
}

pub(super) fn read_rows(
    stmt: &mut rusqlite::CachedStatement<'_>,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<Row>> {
    stmt.query_map(params, Row::read)?.collect()
}
