//! `route` with a `{` that is never closed, and with a stray `}`.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob/device/{id")]
struct One;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob/device}/{id}")]
struct Payload;

fn main() {
    let _ = (One::KIND, Payload::KIND);
}
