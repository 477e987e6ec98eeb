//! Two keys without a comma between them: a syntax error, and no "missing" noise.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code" route = "/oob/device/{id}")]
struct Payload;

fn main() {
    let _ = Payload::KIND;
}
