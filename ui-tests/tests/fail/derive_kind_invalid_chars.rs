//! `kind` in CamelCase, and with a space: a fix is suggested.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "DeviceCode", route = "/oob/one/{id}")]
struct One;

#[derive(OobPayload)]
#[oob(kind = "device code", route = "/oob/two/{id}")]
struct Payload;

fn main() {
    let _ = (One::KIND, Payload::KIND);
}
