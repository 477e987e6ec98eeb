//! `#[oob(...)]` on a field or an enum variant: the derive reads the type's attributes
//! only, so it would be ignored without a word.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob/device/{id}")]
struct One {
    #[oob(ttl = "10m")]
    code: String,
}

#[derive(OobPayload)]
#[oob(kind = "grant", route = "/oob/grant/{id}")]
enum Payload {
    #[oob(kind = "other")]
    Read,
    Write(#[oob(ttl = "1m")] u8),
}

fn main() {
    let _ = (One::KIND, Payload::KIND);
}
