//! `kind` is the empty string.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "", route = "/oob/device/{id}")]
struct Payload;

fn main() {
    let _ = Payload::KIND;
}
