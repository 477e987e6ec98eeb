//! A store whose `list_namespace` answers more than the caller's records: the manager lists
//! only the caller's own.

use std::sync::{Arc, Mutex, PoisonError};

use oob::provider::FromVerifiedSubject;
use oob::store::{MemoryStore, Record, Store};
use oob::time::Timestamp;
use oob::{CallbackBase, Manager, PendingId};
use oob_tests::DeviceCode;
use oob_tests::delegate::{Delegate, Overrides};
use oob_tests::{spec, user};

/// A store whose `list_namespace` answers another namespace's record too (a custom store's
/// bug): the manager lists only the caller's own. (Found by mutation testing, 2026-12-07:
/// the manager's filter could go with every test passing.)
#[tokio::test]
async fn list_shows_only_the_callers_own_whatever_the_store_answers() {
    struct ListsMore(Arc<Mutex<Vec<Record<DeviceCode>>>>);
    impl Overrides<DeviceCode, MemoryStore<DeviceCode>> for ListsMore {
        async fn list_namespace(
            &self,
            inner: &MemoryStore<DeviceCode>,
            namespace: oob::store::NamespaceScope<'_>,
            now: Timestamp,
        ) -> Result<Vec<Record<DeviceCode>>, oob::store::StoreError> {
            let mut all = inner.list_namespace(namespace, now).await?;
            all.extend(
                self.0
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .iter()
                    .cloned(),
            );
            Ok(all)
        }
    }
    let extra = Arc::new(Mutex::new(Vec::new()));
    let m = Manager::builder()
        .store(Delegate::new(MemoryStore::new(), ListsMore(extra.clone())))
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .build();
    let mine = m.create(&user("alice"), spec()).await.expect("create").id();
    let bobs = m.create(&user("bob"), spec()).await.expect("create").id();
    let bob_record = m
        .store()
        .get(bobs, oob::time::Clock::now(&oob::time::SystemClock))
        .await
        .expect("get")
        .expect("bob's");
    extra
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(bob_record);
    let listed: Vec<PendingId> = m
        .list(&user("alice"))
        .await
        .expect("list")
        .iter()
        .map(oob::Pending::id)
        .collect();
    assert_eq!(listed, [mine]);
}
