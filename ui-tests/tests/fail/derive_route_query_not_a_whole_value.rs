//! `{id}` in the query but not as a whole `key={id}` parameter, and its key twice: the
//! extractor could not find the id where the callback URL puts it.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob?id=x{id}")]
struct One;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob?{id}")]
struct Two;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob?id=1&id={id}")]
struct Payload;

fn main() {
    let _ = (One::KIND, Two::KIND, Payload::KIND);
}
