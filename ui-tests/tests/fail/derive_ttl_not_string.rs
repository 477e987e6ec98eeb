//! `ttl` given as a number of seconds instead of a string.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob/device/{id}", ttl = 600)]
struct Payload;

fn main() {
    let _ = Payload::KIND;
}
