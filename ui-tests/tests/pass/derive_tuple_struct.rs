//! A tuple struct, with the attributes split over several `#[oob(...)]` and a compound TTL.
use std::time::Duration;

use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "secret.api-key_2")]
#[oob(route = "/oob/secret/{id}/submit")]
#[oob(ttl = "1h30m")]
struct Secret(String);

fn main() {
    assert_eq!(Secret::KIND, "secret.api-key_2");
    assert_eq!(Secret::ROUTE, "/oob/secret/{id}/submit");
    assert_eq!(Secret::DEFAULT_TTL, Some(Duration::from_secs(90 * 60)));
    let _ = Secret(String::new());
}
