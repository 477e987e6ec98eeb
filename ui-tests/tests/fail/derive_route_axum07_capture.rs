//! axum 0.7's capture syntax (`:id`, `*id`) where axum 0.8, and oob, write `{id}`.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "api_key", route = "/oob/key/:id")]
struct ApiKey;

#[derive(OobPayload)]
#[oob(kind = "device_code", route = "/oob/device/:code")]
struct DeviceCode;

#[derive(OobPayload)]
#[oob(kind = "files", route = "oob/files/*id")]
struct Files;

fn main() {
    let _ = (ApiKey::KIND, DeviceCode::KIND, Files::KIND);
}
