//! A unit struct without TTL: `DEFAULT_TTL` keeps the trait's default, `None`.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "confirm", route = "/{id}")]
struct Confirm;

fn main() {
    assert_eq!(Confirm::KIND, "confirm");
    assert_eq!(Confirm::ROUTE, "/{id}");
    assert_eq!(Confirm::DEFAULT_TTL, None);
    let _ = Confirm;
}
