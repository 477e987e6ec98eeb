//! `route` is not given.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code", ttl = "10m")]
struct Payload;

fn main() {
    let _ = Payload::KIND;
}
