//! A store whose `get` answers another id's record (a custom store's bug): the manager's
//! `get`, `open` and `wait` fail with `Error::StoreContract` and hand out nothing. Before, a
//! read of alice's pending got bob's: `open` then let alice's poller complete bob's pending
//! and persist alice's credential under bob's namespace, and alice's waiter got bob's
//! payload. (Found by a hostile review, 2026-12-07.)

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use oob::provider::FromVerifiedSubject;
use oob::store::{MemoryStore, Record, Store, StoreError};
use oob::time::Timestamp;
use oob::{CallbackBase, Error, Manager, PendingId};
use oob_tests::DeviceCode;
use oob_tests::delegate::{Delegate, Overrides};
use oob_tests::{spec, user};

/// Reads `from` as `to`.
struct SwapGet(Mutex<Option<(PendingId, PendingId)>>);

impl Overrides<DeviceCode, MemoryStore<DeviceCode>> for SwapGet {
    async fn get(
        &self,
        inner: &MemoryStore<DeviceCode>,
        id: PendingId,
        now: Timestamp,
    ) -> Result<Option<Record<DeviceCode>>, StoreError> {
        let swapped = *self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let id = match swapped {
            Some((from, to)) if from == id => to,
            _ => id,
        };
        inner.get(id, now).await
    }
}

#[tokio::test]
async fn a_read_answered_with_another_record_hands_out_nothing() {
    let m = Manager::builder()
        .store(Delegate::new(MemoryStore::new(), SwapGet(Mutex::new(None))))
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .build();
    let alices = m.create(&user("alice"), spec()).await.expect("create").id();
    let bobs = m.create(&user("bob"), spec()).await.expect("create").id();
    *m.store()
        .over
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some((alices, bobs));

    assert!(matches!(m.get(alices).await, Err(Error::StoreContract(id)) if id == alices));
    assert!(matches!(m.open(alices).await, Err(Error::StoreContract(id)) if id == alices));
    assert!(matches!(
        m.wait(alices, Duration::from_secs(1)).await,
        Err(Error::StoreContract(id)) if id == alices
    ));

    // Honest again: both pendings are still open (nothing was completed through the lie).
    *m.store()
        .over
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = None;
    assert!(m.open(bobs).await.is_ok());
    assert!(m.open(alices).await.is_ok());
}
