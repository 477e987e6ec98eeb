//! `{id}` as a query value instead of a path segment.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "callback", route = "/oob?id={id}")]
struct Callback;

#[derive(OobPayload)]
#[oob(kind = "callback2", route = "/oob/cb?state=x&id={id}")]
struct Callback2;

fn main() {
    assert_eq!(Callback::KIND, "callback");
    assert_eq!(Callback::ROUTE, "/oob?id={id}");
    assert_eq!(Callback2::ROUTE, "/oob/cb?state=x&id={id}");
}
