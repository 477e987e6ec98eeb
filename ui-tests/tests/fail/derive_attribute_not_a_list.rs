//! `#[oob = "..."]` instead of `#[oob(...)]`.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob = "device_code"]
struct Payload;

fn main() {
    let _ = Payload::KIND;
}
