//! `route` with a placeholder other than `{id}`, with and without an `{id}` beside it.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob/{name}/{id}")]
struct One;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob/device/{pending}")]
struct Payload;

fn main() {
    let _ = (One::KIND, Payload::KIND);
}
