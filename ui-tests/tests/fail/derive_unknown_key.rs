//! A misspelt key: `knd` for `kind`.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(knd = "device_code", route = "/oob/device/{id}")]
struct Payload;

fn main() {
    let _ = Payload::KIND;
}
