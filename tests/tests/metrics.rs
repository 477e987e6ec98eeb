//! Metrics (feature `metrics`), read back through a recording exporter: every interaction
//! counter, the open gauge, time to outcome, store latency, and store errors by store.
//!
//! Each test runs on a current-thread runtime inside `metrics::with_local_recorder`, so the
//! recorder sees exactly that test's manager (spawned tasks run on the same thread).

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use oob::provider::FromVerifiedSubject;
use oob::state::CancelReason;
use oob::store::{
    CreateError, Created, Dedup, Limits, MemoryStore, NamespaceScope, NewRecord, Record, Store,
    StoreError, Subscription, TransitionError, Wake,
};
use oob::time::{Timestamp, TokioClock};
use oob::{CallbackBase, Error, Manager, Namespace, PendingId};
use oob_tests::delegate::{Delegate, Overrides};
use oob_tests::{DeviceCode, spec, user};

/// What the recorder saw, summed over snapshots (a snapshot resets what it reads).
#[derive(Default)]
struct Seen {
    counters: HashMap<String, u64>,
    gauges: HashMap<String, f64>,
    histograms: HashMap<String, Vec<f64>>,
    labels: Vec<String>,
}

impl Seen {
    fn take(&mut self, snapshotter: &Snapshotter) {
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            let key = key.key();
            let mut labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            labels.sort();
            self.labels.extend(labels.iter().cloned());
            let name = format!("{}{{{}}}", key.name(), labels.join(","));
            match value {
                DebugValue::Counter(n) => *self.counters.entry(name).or_default() += n,
                DebugValue::Gauge(g) => *self.gauges.entry(name).or_default() += g.into_inner(),
                DebugValue::Histogram(h) => self
                    .histograms
                    .entry(name)
                    .or_default()
                    .extend(h.into_iter().map(|v| v.into_inner())),
            }
        }
    }

    fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    fn gauge(&self, name: &str) -> f64 {
        self.gauges.get(name).copied().unwrap_or(0.0)
    }

    fn histogram(&self, name: &str) -> &[f64] {
        self.histograms.get(name).map_or(&[], Vec::as_slice)
    }
}

/// Runs `test` on a paused current-thread runtime with a recorder of its own.
fn recorded<F: Future<Output = ()>>(test: impl FnOnce(Snapshotter) -> F) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("runtime");
    metrics::with_local_recorder(&recorder, || runtime.block_on(test(snapshotter)));
}

fn manager<S: Store<DeviceCode>>(store: S) -> Manager<DeviceCode, S, FromVerifiedSubject> {
    Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .clock(TokioClock::new())
        .build()
}

const KIND: &str = "kind=device_code";

fn total(event: &str) -> String {
    format!("oob_interactions_total{{event={event},{KIND}}}")
}

fn time_to(outcome: &str) -> String {
    format!("oob_time_to_outcome_seconds{{{KIND},outcome={outcome}}}")
}

#[test]
fn every_event_the_open_gauge_and_both_histograms_are_recorded() {
    recorded(async |snapshotter| {
        let mut seen = Seen::default();
        let open = format!("oob_interactions_open{{{KIND}}}");
        let m = manager(MemoryStore::new().with_retention(Duration::from_secs(3600)));
        let alice = Some(user("alice@example.com"));

        let a = m.create(&alice, spec().alias("gh")).await.unwrap();
        assert!(
            m.create_or_join(&alice, spec().alias("gh"))
                .await
                .unwrap()
                .is_joined()
        );
        let b = m.create(&alice, spec()).await.unwrap();
        let c = m.create(&alice, spec()).await.unwrap();
        let d = m
            .create(&alice, spec().ttl(Duration::from_secs(1)))
            .await
            .unwrap();
        seen.take(&snapshotter);
        assert_eq!(seen.gauge(&open), 4.0);

        tokio::time::advance(Duration::from_secs(2)).await;
        m.complete(a).await.unwrap();
        m.cancel(b).await.unwrap();
        m.decline(c).await.unwrap();
        // A refusal (already finished) is an answer, not a store error.
        assert!(m.complete_id(d.id()).await.is_err());
        // The expiry is counted once, by the purge of the manager that created it.
        m.purge().await.unwrap();
        m.purge().await.unwrap();
        seen.take(&snapshotter);
        assert_eq!(seen.gauge(&open), 0.0);

        // A cleared open interaction leaves the gauge too.
        m.create(&alice, spec()).await.unwrap();
        assert_eq!(m.clear(&alice).await.unwrap(), 5);
        seen.take(&snapshotter);
        assert_eq!(seen.gauge(&open), 0.0);

        for (event, n) in [
            ("created", 5),
            ("joined", 1),
            ("completed", 1),
            ("cancelled", 1),
            ("declined", 1),
            ("expired", 1),
        ] {
            assert_eq!(
                seen.counter(&total(event)),
                n,
                "{event}: {:?}",
                seen.counters
            );
        }
        for outcome in ["completed", "cancelled", "declined"] {
            assert_eq!(seen.histogram(&time_to(outcome)), [2.0], "{outcome}");
        }
        assert_eq!(seen.histogram(&time_to("expired")), [1.0]);
        for op in [
            "create", "complete", "cancel", "get", "list", "clear", "purge",
        ] {
            let name = format!("oob_store_operation_seconds{{op={op},store=memory}}");
            assert!(
                !seen.histogram(&name).is_empty(),
                "{name}: {:?}",
                seen.histograms.keys()
            );
        }
        assert!(
            !seen
                .counters
                .keys()
                .any(|k| k.starts_with("oob_store_errors_total")),
            "{:?}",
            seen.counters
        );
        // Labels are fixed words: no namespace, id or payload.
        for label in &seen.labels {
            assert!(
                !label.contains("alice") && !label.contains("ABCD"),
                "{label}"
            );
        }
    });
}

/// A store whose every operation fails, as an unreachable backend does.
struct Down;

fn down() -> StoreError {
    StoreError::backend(std::io::Error::other("backend down"))
}

impl Store<DeviceCode> for Down {
    fn name(&self) -> &'static str {
        "down"
    }
    fn retention(&self) -> Duration {
        oob::store::DEFAULT_RETENTION
    }
    async fn create(
        &self,
        _: &NewRecord<DeviceCode>,
        _: Limits,
        _: Dedup,
        _: Timestamp,
    ) -> Result<Created<DeviceCode>, CreateError> {
        Err(down().into())
    }
    async fn get(
        &self,
        _: PendingId,
        _: Timestamp,
    ) -> Result<Option<Record<DeviceCode>>, StoreError> {
        Err(down())
    }
    async fn complete(
        &self,
        _: PendingId,
        _: Option<&Namespace>,
        _: Timestamp,
        _: Wake,
    ) -> Result<Record<DeviceCode>, TransitionError> {
        Err(down().into())
    }
    async fn wake(&self, _: &Record<DeviceCode>) -> Result<(), StoreError> {
        Err(down())
    }
    async fn cancel(
        &self,
        _: PendingId,
        _: CancelReason,
        _: Option<&Namespace>,
        _: Timestamp,
    ) -> Result<Record<DeviceCode>, TransitionError> {
        Err(down().into())
    }
    async fn list_namespace(
        &self,
        _: NamespaceScope<'_>,
        _: Timestamp,
    ) -> Result<Vec<Record<DeviceCode>>, StoreError> {
        Err(down())
    }
    async fn clear_namespace(&self, _: NamespaceScope<'_>) -> Result<usize, StoreError> {
        Err(down())
    }
    async fn purge(&self, _: Timestamp) -> Result<usize, StoreError> {
        Err(down())
    }
    async fn subscribe(&self, _: PendingId) -> Result<Subscription<DeviceCode>, StoreError> {
        Err(down())
    }
}

#[test]
fn store_errors_are_counted_by_store_and_operation() {
    recorded(async |snapshotter| {
        let m = manager(Down);
        let alice = Some(user("alice"));
        assert!(matches!(
            m.create(&alice, spec()).await,
            Err(Error::Store(_))
        ));
        assert!(matches!(
            m.complete_id(PendingId::random()).await,
            Err(Error::Store(_))
        ));
        assert!(matches!(
            m.get(PendingId::random()).await,
            Err(Error::Store(_))
        ));
        assert!(matches!(
            m.get(PendingId::random()).await,
            Err(Error::Store(_))
        ));

        let mut seen = Seen::default();
        seen.take(&snapshotter);
        let errors =
            |op: &str| seen.counter(&format!("oob_store_errors_total{{op={op},store=down}}"));
        // `complete_id` reads the record first (this store does not check that a payload
        // decodes inside its transition): three failed reads in all.
        assert_eq!(
            (errors("create"), errors("complete"), errors("get")),
            (1, 1, 3)
        );
        let latency = "oob_store_operation_seconds{op=get,store=down}";
        assert_eq!(seen.histogram(latency).len(), 3);
        // Nothing was created, so nothing is open.
        assert_eq!(seen.counter(&total("created")), 0);
        assert_eq!(seen.gauge(&format!("oob_interactions_open{{{KIND}}}")), 0.0);
    });
}

/// A memory store whose `get` fails (as for a record that does not decode): the purge's
/// expiry count reads through it.
struct GetFails;

impl Overrides<DeviceCode, MemoryStore<DeviceCode>> for GetFails {
    async fn get(
        &self,
        _inner: &MemoryStore<DeviceCode>,
        _id: PendingId,
        _now: Timestamp,
    ) -> Result<Option<Record<DeviceCode>>, StoreError> {
        Err(down())
    }
}

/// Counting expiries is best effort: a record the store cannot read is not counted, and the
/// purge still runs (it used to fail with the read's error, purging nothing).
#[test]
fn a_record_the_expiry_count_cannot_read_does_not_stop_the_purge() {
    recorded(async |_snapshotter| {
        let store = MemoryStore::new().with_retention(Duration::ZERO);
        let m = manager(Delegate::new(store, GetFails));
        let alice = Some(user("alice"));
        for _ in 0..2 {
            m.create(&alice, spec().ttl(Duration::from_secs(5)))
                .await
                .expect("create");
        }
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!(m.purge().await.expect("the purge runs"), 2);
        assert_eq!(m.store().inner.len(), 0);
    });
}

/// With zero retention an expired record is gone for every read at its deadline; the
/// sweeper's count still sees that it expired (it reads it as it stood just before), so the
/// open gauge comes back to zero and each expiry is counted once.
#[test]
fn expiries_are_counted_with_zero_retention() {
    recorded(async |snapshotter| {
        let mut seen = Seen::default();
        let open = format!("oob_interactions_open{{{KIND}}}");
        let m = manager(MemoryStore::new().with_retention(Duration::ZERO));
        let alice = Some(user("alice@example.com"));
        for _ in 0..3 {
            m.create(&alice, spec().ttl(Duration::from_secs(5)))
                .await
                .unwrap();
        }
        let done = m.create(&alice, spec()).await.unwrap();
        m.complete(done).await.unwrap();
        tokio::time::advance(Duration::from_secs(6)).await;
        m.purge().await.unwrap();
        m.purge().await.unwrap();
        seen.take(&snapshotter);
        assert_eq!(seen.counter(&total("expired")), 3, "{:?}", seen.counters);
        assert_eq!(seen.counter(&total("completed")), 1);
        assert_eq!(seen.gauge(&open), 0.0);
    });
}
