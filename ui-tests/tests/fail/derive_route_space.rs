//! `route` with a space, and with a control character.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob/device code/{id}")]
struct One;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob/device\t/{id}")]
struct Payload;

fn main() {
    let _ = (One::KIND, Payload::KIND);
}
