//! [`warm`]: starting the load of a record's body early, so cache misses overlap.
//!
//! Handing out a record clones its body's `Arc`: an atomic increment, which on x86 waits for
//! every load before it and keeps every load after it waiting. A body is a separate
//! allocation, so on a large store each increment is a cache miss, and misses that could
//! have overlapped happen one after the other: a get waited for the record, then for the
//! body; a list of ten waited for ten bodies in turn. Reading each body's count first (a
//! plain load) starts all those loads at once; the increments then find the lines arriving.
//! Measured by `MEMORY_BENCH=get,list cargo bench -p oob --bench memory_store` (figures in
//! BENCHMARKS.md).

use std::sync::Arc;

use super::super::Body;

/// Starts loading `body`'s cache line (see the module docs).
pub(super) fn warm<T>(body: &Arc<Body<T>>) {
    std::hint::black_box(Arc::strong_count(body));
}
