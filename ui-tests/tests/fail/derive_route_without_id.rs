//! `route` without the `{id}` placeholder.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob/device")]
struct Payload;

fn main() {
    let _ = Payload::KIND;
}
