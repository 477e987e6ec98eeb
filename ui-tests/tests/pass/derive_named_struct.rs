//! A struct with named fields, with a TTL.
use std::time::Duration;

use oob::OobPayload;

#[derive(Clone, OobPayload)]
#[oob(kind = "device_code", route = "/oob/device/{id}", ttl = "10m")]
struct DeviceCode {
    user_code: String,
    verification_uri: String,
}

fn main() {
    assert_eq!(DeviceCode::KIND, "device_code");
    assert_eq!(DeviceCode::ROUTE, "/oob/device/{id}");
    assert_eq!(DeviceCode::DEFAULT_TTL, Some(Duration::from_secs(600)));
    let _ = DeviceCode {
        user_code: String::new(),
        verification_uri: String::new(),
    };
}
