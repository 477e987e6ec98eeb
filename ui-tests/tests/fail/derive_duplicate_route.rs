//! `route` given twice in one attribute.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(
    kind = "device_code",
    route = "/oob/device/{id}",
    route = "/oob/other/{id}"
)]
struct Payload;

fn main() {
    let _ = Payload::KIND;
}
