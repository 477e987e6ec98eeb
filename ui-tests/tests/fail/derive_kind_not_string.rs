//! `kind` given as a number and as a bare identifier instead of a string literal.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = 5, route = "/oob/one/{id}")]
struct One;

#[derive(OobPayload)]
#[oob(kind = device_code, route = "/oob/two/{id}")]
struct Payload;

fn main() {
    let _ = (One::KIND, Payload::KIND);
}
