#![allow(unused_imports)]
use oob::provider::{FixedNamespace, FromVerifiedSubject, VerifiedSubject};
use oob::store::MemoryStore;
use oob::vault::{MemoryVault, Vault};
use oob::{AnyPending, CallbackBase, Manager, Namespace, OobPayload, Outcome, Spec};

#[derive(Clone, OobPayload)]
#[oob(kind = "api_key", route = "/oob/key/{id}")]
struct ApiKey;

/// A multi-user server: namespaces come from the verified request.
type M = Manager<ApiKey, MemoryStore<ApiKey>, FromVerifiedSubject>;

fn manager() -> M {
    Manager::builder()
        .store(MemoryStore::new())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").unwrap())
        .build()
}

fn alice() -> VerifiedSubject {
    VerifiedSubject::new(Namespace::new("alice").unwrap())
}

use oob::store::{Body, Dedup, Limits, Record, RecordState};
use oob::time::Timestamp;
async fn run(m: M) {
    // Store::create takes a NewRecord, which only the manager makes.
    let forged = Record::new(
        oob::PendingId::random(),
        Namespace::new("victim").unwrap(),
        Timestamp::from_millis(0),
        Timestamp::from_millis(u64::MAX),
        RecordState::Open,
        std::sync::Arc::new(Body::new(ApiKey, None, None, None)),
    );
    let now = Timestamp::from_millis(0);
    let _ = oob::Store::create(m.store(), &forged, Limits::default(), Dedup::Never, now).await;
}
fn main() { let _ = (manager, run); }
