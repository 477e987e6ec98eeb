// A manager whose provider is the builder's own "not given yet" marker: it would build a
// manager missing its provider, so the marker cannot be made outside the builder.
use oob::manager::Missing;
use oob::store::MemoryStore;
use oob::{CallbackBase, Manager, OobPayload};

#[derive(Clone, OobPayload)]
#[oob(kind = "api_key", route = "/oob/key/{id}")]
struct ApiKey;

fn main() {
    let _m = Manager::builder()
        .store(MemoryStore::<ApiKey>::new())
        .provider(Missing)
        .callback_base(CallbackBase::parse("https://ex.com").unwrap())
        .build();
}
