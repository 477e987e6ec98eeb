//! The SQLite store on a row whose state does not decode (an unknown state code written by
//! hand, or by another program on the file): a transition answers the decode error a get
//! answers, not a finish it cannot know, and writes nothing.

use std::time::Duration;

use oob::Error;
use oob::PendingId;
use oob::store::{SqliteStore, StoreError};
use oob_tests::conformance::{Opts, manager_on};
use oob_tests::sqlite_file::TempDb;
use oob_tests::{spec, user};

/// The columns a transition writes, as stored.
type Columns = (String, Option<String>, Option<i64>);

fn columns(db: &rusqlite::Connection, id: PendingId) -> Columns {
    db.query_row(
        "SELECT state, reason, finished_at FROM oob_pendings WHERE id = ?1",
        [&id.as_bytes()[..]],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .expect("the row")
}

/// The decode error's cause, as it reads (the column that did not decode).
fn decode_cause<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
    match r {
        Err(Error::Store(e @ StoreError::Decode(_))) => std::error::Error::source(&e)
            .map(ToString::to_string)
            .unwrap_or_default(),
        other => panic!("expected a decode error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_transition_on_an_unknown_state_answers_the_decode_error_and_writes_nothing() {
    let file = TempDb::new("corrupt");
    let path = file.path().to_path_buf();
    let store = SqliteStore::open(&path).expect("open");
    let (m, clock) = manager_on(store, Opts::default());
    let a = user("a");
    let p = m.create(&a, spec()).await.expect("create");
    let q = m.create(&a, spec()).await.expect("create");
    let id = p.id();
    let db = rusqlite::Connection::open(&path).expect("open the file");
    db.busy_timeout(Duration::from_secs(10))
        .expect("busy timeout");
    db.execute(
        "UPDATE oob_pendings SET state = 'bogus' WHERE id = ?1",
        [&id.as_bytes()[..]],
    )
    .expect("corrupt the row");
    let before = columns(&db, id);
    let read = decode_cause(m.get(id).await);
    assert_eq!(read, "invalid stored state");
    clock.advance(Duration::from_secs(1));
    assert_eq!(decode_cause(m.complete(p).await), read);
    assert_eq!(columns(&db, id), before, "the transition wrote to the row");
    // The other record is untouched by this and completes.
    m.complete(q).await.expect("complete");
    assert_eq!(decode_cause(m.get(id).await), read);
}

/// The payload of the next version of the service: `DeviceCode` with a field added without
/// a default, under the same kind (a rolling deploy).
#[derive(Debug, Clone, oob::OobPayload, serde::Serialize, serde::Deserialize)]
#[oob(kind = "device_code", route = "/oob/cb/{id}", ttl = "10m")]
struct DeviceCodeV2 {
    verify_url: String,
    user_code: String,
    message: String,
    added: u32,
}

/// A version whose payload type cannot read a record's payload answers the decode error of
/// a complete by id and writes nothing, so a version that reads it still completes it.
/// Before, the transition was written and then failed to decode: finished, with no winner.
#[tokio::test]
async fn a_complete_by_a_version_that_cannot_read_the_payload_writes_nothing() {
    let file = TempDb::new("versions");
    let path = file.path().to_path_buf();
    let (old, _clock) = manager_on(SqliteStore::open(&path).expect("open"), Opts::default());
    let new = oob::Manager::builder()
        .store(SqliteStore::<DeviceCodeV2>::open(&path).expect("open"))
        .provider(oob::provider::FromVerifiedSubject)
        .callback_base(oob::CallbackBase::parse("https://ex.com").expect("base"))
        .build();
    let p = old.create(&user("v"), spec()).await.expect("create");
    let id = p.id();
    match new.complete_id(id).await {
        Err(Error::Store(StoreError::Decode(_))) => {}
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert!(
        matches!(old.get(id).await.expect("get"), oob::AnyPending::Open(_)),
        "the transition wrote to the row"
    );
    old.complete_id(id)
        .await
        .expect("the version that reads it completes it");
}
