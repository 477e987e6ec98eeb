//! What the store SPI is handed and answers, seen through a spying store.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use oob::provider::FromVerifiedSubject;
use oob::state::CancelReason;
use oob::store::NamespaceScope;
use oob::store::{
    CreateError, Created, Dedup, Limits, MemoryStore, NewRecord, Record, Store, StoreError,
    TransitionError, Wake,
};
use oob::time::Timestamp;
use oob::{CallbackBase, Manager, Namespace, PendingId};
use oob_tests::delegate::{Delegate, Overrides};

use crate::leaks::Leaks;
use crate::{Secret, spec, subject};
/// Keeps the `Debug` of every `NewRecord` a store is handed and of every answer it gives (a
/// `NewRecord` is made only by the manager, so this is how a test gets one).
struct Spy {
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl Spy {
    fn saw<D: fmt::Debug>(&self, what: &str, value: &D) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.push((format!("{what} {{:?}}"), format!("{value:?}")));
        seen.push((format!("{what} {{:#?}}"), format!("{value:#?}")));
    }
}

impl<S: Store<Secret>> Overrides<Secret, S> for Spy {
    async fn create(
        &self,
        inner: &S,
        new: &NewRecord<Secret>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> Result<Created<Secret>, CreateError> {
        self.saw("NewRecord", new);
        let created = inner.create(new, limits, dedup, now).await;
        self.saw("Result<Created, CreateError>", &created);
        created
    }

    async fn get(
        &self,
        inner: &S,
        id: PendingId,
        now: Timestamp,
    ) -> Result<Option<Record<Secret>>, StoreError> {
        let got = inner.get(id, now).await;
        self.saw("Result<Option<Record>, StoreError> (get)", &got);
        got
    }

    async fn complete(
        &self,
        inner: &S,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<Secret>, TransitionError> {
        let done = inner.complete(id, expect, now, wake).await;
        self.saw("Result<Record, TransitionError> (complete)", &done);
        done
    }

    async fn cancel(
        &self,
        inner: &S,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> Result<Record<Secret>, TransitionError> {
        let done = inner.cancel(id, reason, expect, now).await;
        self.saw("Result<Record, TransitionError> (cancel)", &done);
        done
    }

    async fn list_namespace(
        &self,
        inner: &S,
        namespace: NamespaceScope<'_>,
        now: Timestamp,
    ) -> Result<Vec<Record<Secret>>, StoreError> {
        self.saw("NamespaceScope (list_namespace)", &namespace);
        let listed = inner.list_namespace(namespace, now).await;
        self.saw("Result<Vec<Record>, StoreError> (list)", &listed);
        listed
    }

    async fn clear_namespace(
        &self,
        inner: &S,
        namespace: NamespaceScope<'_>,
    ) -> Result<usize, StoreError> {
        self.saw("NamespaceScope (clear_namespace)", &namespace);
        inner.clear_namespace(namespace).await
    }
}

/// What the store SPI is handed and answers: new records, created answers, transition
/// answers, listings, tokens, and a subscription holding a completed record.
#[tokio::test]
async fn what_the_store_spi_sees_prints_neither_secret_nor_namespace() {
    let mut leaks = Leaks::default();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let m = Manager::builder()
        .store(Delegate::new(
            MemoryStore::new(),
            Spy {
                seen: Arc::clone(&seen),
            },
        ))
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("valid base"))
        .build();
    let cx = subject();
    let a = m.create(&cx, spec().alias("gh")).await.expect("create");
    let joined = m
        .create_or_join(&cx, spec().alias("gh"))
        .await
        .expect("join");
    assert!(joined.is_joined());
    let mut sub = m.store().subscribe(a.id()).await.expect("subscribe");
    m.list(&cx).await.expect("list");
    m.get(a.id()).await.expect("get");
    m.complete(a).await.expect("complete");
    leaks.debug("Subscription (holding a completed record)", &sub);
    let event = sub.changed().await;
    leaks.debug("Subscription event", &event);
    let b = m.create(&cx, spec()).await.expect("create");
    m.cancel(b).await.expect("cancel");
    m.clear(&cx).await.expect("clear");
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(PoisonError::into_inner));
    assert!(seen.iter().any(|(what, _)| what.starts_with("NewRecord")));
    for (what, out) in &seen {
        leaks.text(what, out);
    }
    leaks.assert_none(20);
}
