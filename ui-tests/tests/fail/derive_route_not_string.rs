//! `route` given as a path expression instead of a string literal.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = oob::device)]
struct Payload;

fn main() {
    let _ = Payload::KIND;
}
