//! Fixtures for this module's unit tests.

use crate::Namespace;
use crate::manager::{CallbackBase, Manager};
use crate::payload::OobPayload;
use crate::provider::{FixedNamespace, FromVerifiedSubject};
use crate::store::MemoryStore;
use crate::time::TokioClock;

#[derive(Debug, Clone)]
pub(crate) struct ApiKey;

impl OobPayload for ApiKey {
    const KIND: &'static str = "api_key";
    const ROUTE: &'static str = "/ui/set_api_key/{id}";
}

pub(crate) fn manager(base: &str) -> Manager<ApiKey, MemoryStore<ApiKey>, FixedNamespace> {
    Manager::builder()
        .store(MemoryStore::new())
        .provider(FixedNamespace::new(Namespace::new("alice").unwrap()))
        .callback_base(CallbackBase::parse(base).unwrap())
        .build()
}

pub(crate) fn manager_for() -> Manager<ApiKey, MemoryStore<ApiKey>, FromVerifiedSubject> {
    Manager::builder()
        .store(MemoryStore::new())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://mcp.example.com").unwrap())
        .clock(TokioClock::new())
        .build()
}
