//! `kind` longer than 64 bytes.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(
    kind = "a_very_long_kind_name_that_goes_on_and_on_well_past_the_sixty_four_byte_limit",
    route = "/oob/device/{id}"
)]
struct Payload;

fn main() {
    let _ = Payload::KIND;
}
