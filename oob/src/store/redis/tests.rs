//! Unit tests of the codec, the keys and the event messages.

use std::sync::Arc;

use redis::Value;

use super::codec::{decode, decode_hash, encode_fields, record_message};
use super::events::on_event;
use super::keys::dedup_key;
use super::transitions::limit_arg;
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::state::CancelReason;
use crate::store::{Body, Notifier, Record, RecordState, StoreError};
use crate::time::Timestamp;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct P {
    s: String,
    n: u64,
}

fn record(state: RecordState, labels: [Option<&str>; 3]) -> Record<P> {
    Record::new(
        PendingId::random(),
        Namespace::new("ünï").expect("namespace"),
        Timestamp::from_millis(1_700_000_000_000),
        Timestamp::from_millis(1_700_000_600_000),
        state,
        Arc::new(Body::new(
            P {
                s: "a \"b\"\n\u{0}🦀".into(),
                n: u64::MAX,
            },
            labels[0].map(String::from),
            labels[1].map(String::from),
            labels[2].map(String::from),
        )),
    )
}

fn round_trip(r: &Record<P>) -> Record<P> {
    let fields = encode_fields(r).expect("encode");
    decode(
        r.id,
        fields.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())),
    )
    .expect("decode")
}

#[test]
fn fields_round_trip_every_state_and_label() {
    let at = Timestamp::from_millis(1_700_000_100_000);
    for state in [
        RecordState::Open,
        RecordState::Completed { at },
        RecordState::Cancelled {
            at,
            reason: CancelReason::Cancelled,
        },
        RecordState::Cancelled {
            at,
            reason: CancelReason::Declined,
        },
    ] {
        for labels in [
            [None, None, None],
            [Some(""), None, Some("x")],
            [Some("ålias"), Some("res"), Some("el")],
        ] {
            let r = record(state, labels);
            assert_eq!(round_trip(&r), r);
        }
    }
}

#[test]
fn malformed_fields_are_decode_errors() {
    let r = record(RecordState::Open, [None; 3]);
    let fields = encode_fields(&r).expect("encode");
    for drop in ["n", "c", "e", "s", "d"] {
        let pairs = fields
            .iter()
            .filter(|(k, _)| *k != drop)
            .map(|(k, v)| (k.as_bytes(), v.as_bytes()));
        assert!(
            matches!(decode::<P>(r.id, pairs), Err(StoreError::Decode(_))),
            "{drop}"
        );
    }
    let bad = [
        ("n", ""),
        ("c", "x"),
        ("e", "-1"),
        ("s", "q"),
        ("d", "{"),
        ("s", "c"),
    ];
    for (k, v) in bad {
        let pairs = fields.iter().map(|(f, x)| {
            (
                f.as_bytes(),
                if *f == k { v.as_bytes() } else { x.as_bytes() },
            )
        });
        assert!(decode::<P>(r.id, pairs).is_err(), "{k}={v}");
    }
}

#[test]
fn hash_replies_decode_from_arrays_and_maps_in_their_state_as_of_now() {
    let r = record(RecordState::Open, [Some("a"), None, None]);
    let fields = encode_fields(&r).expect("encode");
    let kv = |k: &str, v: &String| {
        (
            Value::BulkString(k.as_bytes().to_vec()),
            Value::BulkString(v.as_bytes().to_vec()),
        )
    };
    let flat = Value::Array(
        fields
            .iter()
            .flat_map(|(k, v)| {
                let (k, v) = kv(k, v);
                [k, v]
            })
            .collect(),
    );
    let map = Value::Map(fields.iter().map(|(k, v)| kv(k, v)).collect());
    let before = Timestamp::from_millis(1_700_000_000_001);
    assert_eq!(
        decode_hash::<P>(r.id, &flat, before).expect("flat"),
        Some(r.clone())
    );
    assert_eq!(
        decode_hash::<P>(r.id, &map, before).expect("map"),
        Some(r.clone())
    );
    // At the deadline, to the millisecond, it reads as expired.
    let expired = decode_hash::<P>(r.id, &flat, r.expires_at)
        .expect("flat")
        .map(|r| r.state);
    assert_eq!(expired, Some(RecordState::Expired { at: r.expires_at }));
    assert_eq!(
        decode_hash::<P>(r.id, &Value::Array(vec![]), before).expect("empty"),
        None
    );
    assert!(decode_hash::<P>(r.id, &Value::Int(1), before).is_err());
}

#[test]
fn the_finish_marker_decides_the_state() {
    let r = record(RecordState::Open, [None; 3]);
    let fields = encode_fields(&r).expect("encode");
    let with = |marker: &str| {
        let mut pairs: Vec<(&[u8], &[u8])> = fields
            .iter()
            .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
            .collect();
        pairs.push((b"f", marker.as_bytes()));
        decode::<P>(r.id, pairs)
    };
    let e = r.expires_at.as_millis();
    let at = Timestamp::from_millis(e - 1);
    let state = |m: String| with(&m).expect("decode").state;
    assert_eq!(state(format!("c{}", e - 1)), RecordState::Completed { at });
    assert_eq!(
        state(format!("x{}", e - 1)),
        RecordState::Cancelled {
            at,
            reason: CancelReason::Cancelled
        }
    );
    assert_eq!(
        state(format!("d{}", e - 1)),
        RecordState::Cancelled {
            at,
            reason: CancelReason::Declined
        }
    );
    // At or after the deadline the marker came too late: open as stored, so expired.
    assert_eq!(state(format!("c{e}")), RecordState::Open);
    for bad in ["", "c", "cx", "o1", "q1"] {
        assert!(with(bad).is_err(), "{bad:?}");
    }
    // A marker alone (left on a record removed under its completer) is no record.
    let lone = Value::Array(vec![
        Value::BulkString(b"f".to_vec()),
        Value::BulkString(b"c1".to_vec()),
    ]);
    let now = Timestamp::from_millis(1);
    assert_eq!(decode_hash::<P>(r.id, &lone, now).expect("lone"), None);
}

#[test]
fn dedup_keys_of_different_triples_differ() {
    let triples = [
        [None, None],
        [Some(""), None],
        [None, Some("")],
        [Some("a"), Some("b")],
        [Some("a-"), None],
        [Some("a"), Some("")],
        [Some("1:a"), None],
    ];
    let keys: std::collections::HashSet<String> = triples
        .iter()
        .map(|[a, r]| dedup_key(&record(RecordState::Open, [*a, *r, None])))
        .collect();
    assert_eq!(keys.len(), triples.len());
}

#[tokio::test]
async fn events_wake_with_or_without_the_record() {
    let n = Notifier::<P>::new();
    let r = record(
        RecordState::Completed {
            at: Timestamp::from_millis(1_700_000_100_000),
        },
        [None; 3],
    );
    let mut sub = n.subscribe(r.id);
    on_event(&n, record_message(&r).expect("message").as_bytes());
    assert_eq!(sub.changed().await.as_deref(), Some(&r));
    // A bare event wakes too, and keeps the record an earlier one carried (a record
    // finishes once: that outcome stands).
    on_event(&n, r.id.encode().as_str().as_bytes());
    assert_eq!(sub.changed().await.as_deref(), Some(&r));
    // One without a record for an id whose channel never had one: a re-read.
    let other = PendingId::random();
    let mut bare = n.subscribe(other);
    on_event(&n, other.encode().as_str().as_bytes());
    assert!(bare.changed().await.is_none());
    // Garbage is ignored.
    on_event(&n, b"not an id");
    on_event(&n, b"");
    assert!(sub.try_changed().is_none());
}

#[test]
fn limits_map_to_lua_numbers() {
    assert_eq!(limit_arg(0), 0);
    assert_eq!(limit_arg(1_000), 1_000);
    assert_eq!(limit_arg(usize::MAX), -1);
}
