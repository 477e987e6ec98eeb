//! An unknown key that looks like no key (`colour`) and a missing `route`: both are
//! reported at once (only a likely misspelling, `rout`, stands in for the key it spells).
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code", colour = "blue")]
struct Payload;

#[derive(OobPayload)]
#[oob(rout = "/oob/device/{id}")]
struct Misspelt;

fn main() {
    let _ = (Payload::KIND, Misspelt::KIND);
}
