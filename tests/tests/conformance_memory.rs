//! The store conformance suite against [`MemoryStore`].

use std::time::Duration;

use oob::store::MemoryStore;
use oob_tests::DeviceCode;

async fn make(retention: Duration) -> MemoryStore<DeviceCode> {
    MemoryStore::new().with_retention(retention)
}

oob_tests::store_conformance!(make);
