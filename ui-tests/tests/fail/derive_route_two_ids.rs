//! `route` with `{id}` twice.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob/{id}/device/{id}")]
struct Payload;

fn main() {
    let _ = Payload::KIND;
}
