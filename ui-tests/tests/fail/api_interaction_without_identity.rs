// Serving an interaction requires saying how the browser user is identified: there is no
// `Interaction<T>` that checks nobody.
use oob::OobPayload;
use oob::http::Interaction;

#[derive(Clone, OobPayload)]
#[oob(kind = "api_key", route = "/oob/key/{id}")]
struct ApiKey;

async fn page(ix: Interaction<ApiKey>) -> String {
    ix.id().to_string()
}

fn main() {
    let _ = page;
}
