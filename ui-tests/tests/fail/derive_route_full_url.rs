//! `route` given as a full URL instead of a path.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "https://example.com/oob/device/{id}")]
struct Payload;

fn main() {
    let _ = Payload::KIND;
}
