//! No `#[oob(...)]` attribute at all.
use oob::OobPayload;

#[derive(OobPayload)]
struct Payload {
    code: String,
}

fn main() {
    let _ = Payload::KIND;
}
