// A hand-written `OobPayload` whose kind and route break the rules the derive checks: the
// manager builder refuses it when instantiated for the type (a compile error), as a Redis
// key or a router would otherwise meet them at run time.
use oob::provider::FromVerifiedSubject;
use oob::store::MemoryStore;
use oob::{CallbackBase, Manager, OobPayload};

#[derive(Clone)]
struct BadKind;

impl OobPayload for BadKind {
    const KIND: &'static str = "Bad Kind";
    const ROUTE: &'static str = "/oob/bad/{id}";
}

fn main() {
    let _m = Manager::builder()
        .store(MemoryStore::<BadKind>::new())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").unwrap())
        .build();
}
