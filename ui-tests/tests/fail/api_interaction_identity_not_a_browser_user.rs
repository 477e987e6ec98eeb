// The identity parameter must say who the browser user is: a `VerifiedSubject` is a value
// your auth layer inserts, not a way to identify the user (that is `ExtensionUser`).
use axum::extract::FromRequestParts;
use oob::http::Interaction;
use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::store::MemoryStore;
use oob::{Manager, OobPayload};

#[derive(Clone, OobPayload)]
#[oob(kind = "api_key", route = "/oob/key/{id}")]
struct ApiKey;

type Oob = Manager<ApiKey, MemoryStore<ApiKey>, FromVerifiedSubject>;

fn extractor<E: FromRequestParts<Oob>>() {}

fn main() {
    extractor::<Interaction<ApiKey, VerifiedSubject, Oob>>();
}
