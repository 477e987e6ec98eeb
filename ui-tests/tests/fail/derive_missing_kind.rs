//! `kind` is not given.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(route = "/oob/device/{id}")]
struct Payload;

fn main() {
    let _ = Payload::KIND;
}
