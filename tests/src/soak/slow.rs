//! A store wrapper that injects latency (a slow disk or a far network), varying per call.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use oob::store::Store;

use crate::delegate::{Delegate, Overrides};

/// A store that sleeps before every operation: in turn ½, 1, 1½ and 2 times `delay`.
pub type SlowStore<S> = Delegate<S, Slow>;

/// The delay of a [`SlowStore`] and how many calls it has paused.
#[derive(Debug, Clone)]
pub struct Slow {
    delay: Duration,
    calls: Arc<AtomicU64>,
}

impl Slow {
    /// Wraps `inner` in a store that sleeps about `delay` before every operation.
    pub fn store<S>(inner: S, delay: Duration) -> SlowStore<S> {
        Delegate::new(
            inner,
            Self {
                delay,
                calls: Arc::new(AtomicU64::new(0)),
            },
        )
    }
}

impl<T, S: Store<T>> Overrides<T, S> for Slow {
    async fn before(&self) {
        let n = self.calls.fetch_add(1, Ordering::Relaxed) % 4 + 1;
        tokio::time::sleep(self.delay * u32::try_from(n).unwrap_or(1) / 2).await;
    }
}
