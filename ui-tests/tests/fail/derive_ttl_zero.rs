//! `ttl` of zero seconds.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob/device/{id}", ttl = "0m0s")]
struct Payload;

fn main() {
    let _ = Payload::KIND;
}
