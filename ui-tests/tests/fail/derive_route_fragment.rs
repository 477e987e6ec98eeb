//! `route` with a `#` fragment, which browsers never send.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob/device/{id}#done")]
struct Payload;

fn main() {
    let _ = Payload::KIND;
}
