//! A dot segment written with `%2e`: URL parsers (browsers, WHATWG) read `%2e%2e` as `..`
//! and resolve it away, so the callback URL would leave the service's base path.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/a/%2e%2E/{id}")]
struct Payload;

fn main() {
    let _ = Payload::KIND;
}
