//! `kind` given twice, across two attributes.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob/device/{id}")]
#[oob(kind = "other")]
struct Payload;

fn main() {
    let _ = Payload::KIND;
}
