//! Latencies and failures per operation, and their figures (count, rate, p50, p99).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Latencies and failures per operation name.
#[derive(Debug, Default)]
pub struct Ops {
    inner: Mutex<BTreeMap<&'static str, (Vec<Duration>, u64)>>,
}

/// The figures of one operation over a run.
#[derive(Debug, Clone, PartialEq)]
pub struct OpFigures {
    /// The operation's name.
    pub op: &'static str,
    /// How many ran (successful or not).
    pub count: usize,
    /// Operations per second over the run.
    pub per_sec: f64,
    /// How many failed (a store fault, a timeout, a conflict where one is an error).
    pub failed: u64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
}

impl Ops {
    /// Records one operation.
    pub fn record(&self, op: &'static str, took: Duration, ok: bool) {
        let mut m = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let e = m.entry(op).or_default();
        e.0.push(took);
        if !ok {
            e.1 += 1;
        }
    }

    /// The figures of every operation, by name, with rates over `elapsed`.
    #[must_use]
    pub fn figures(&self, elapsed: Duration) -> Vec<OpFigures> {
        let mut m = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let secs = elapsed.as_secs_f64().max(f64::EPSILON);
        m.iter_mut()
            .map(|(op, (lat, failed))| {
                lat.sort_unstable();
                let q = |p: usize| {
                    lat.get(lat.len().saturating_sub(1) * p / 100)
                        .copied()
                        .unwrap_or_default()
                };
                OpFigures {
                    op,
                    count: lat.len(),
                    per_sec: lat.len() as f64 / secs,
                    failed: *failed,
                    p50: q(50),
                    p99: q(99),
                }
            })
            .collect()
    }
}
