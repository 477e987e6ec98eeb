//! An enum, with a TTL in seconds.
use std::time::Duration;

use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "oauth", route = "/oob/oauth/{id}/callback", ttl = "90s")]
enum OAuth {
    Consent { scopes: Vec<String> },
    Refresh(String),
    Revoke,
}

fn main() {
    assert_eq!(OAuth::KIND, "oauth");
    assert_eq!(OAuth::ROUTE, "/oob/oauth/{id}/callback");
    assert_eq!(OAuth::DEFAULT_TTL, Some(Duration::from_secs(90)));
    let _ = [
        OAuth::Consent { scopes: Vec::new() },
        OAuth::Refresh(String::new()),
        OAuth::Revoke,
    ];
}
