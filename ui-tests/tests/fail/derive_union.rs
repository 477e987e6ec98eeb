//! Unions are rejected.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob/device/{id}")]
union Payload {
    code: u32,
    bytes: [u8; 4],
}

fn main() {
    let _ = Payload::KIND;
}
