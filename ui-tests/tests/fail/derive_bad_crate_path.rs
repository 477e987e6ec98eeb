//! `crate` that is not a path.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(
    kind = "device_code",
    route = "/oob/device/{id}",
    crate = "my reexport"
)]
struct Payload;

fn main() {
    let _ = Payload::KIND;
}
