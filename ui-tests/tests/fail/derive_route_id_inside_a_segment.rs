//! `{id}` sharing its path segment with more: axum refuses the route, and an extractor
//! could not tell where the id ends.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob/device/{id}.json")]
struct One;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob/device-{id}")]
struct Payload;

fn main() {
    let _ = (One::KIND, Payload::KIND);
}
