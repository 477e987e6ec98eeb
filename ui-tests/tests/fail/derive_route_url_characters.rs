//! Characters a URL does not carry as is, an empty and a dot segment: browsers and routers
//! would read the callback URL differently from the route.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob/café/{id}")]
struct One;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/\\evil.example/{id}")]
struct Two;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "//evil.example/{id}")]
struct Three;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob/../{id}")]
struct Payload;

fn main() {
    let _ = (One::KIND, Two::KIND, Three::KIND, Payload::KIND);
}
