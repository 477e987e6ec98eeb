//! `route` without its leading `/`.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "oob/device/{id}")]
struct Payload;

fn main() {
    let _ = Payload::KIND;
}
