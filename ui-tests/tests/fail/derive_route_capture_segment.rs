//! A path segment starting with `:` or `*`, which axum reads as a capture and refuses.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob/:user/{id}")]
struct One;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob/*/{id}")]
struct Payload;

fn main() {
    let _ = (One::KIND, Payload::KIND);
}
