//! `route` without the `{id}` placeholder; the suggested route is itself valid (the query
//! already has an `id` key, so `{id}` goes in the path).
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob/device")]
struct Payload;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob?id=1")]
struct Query;

fn main() {
    let _ = (Payload::KIND, Query::KIND);
}
