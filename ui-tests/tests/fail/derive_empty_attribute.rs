//! An empty `#[oob()]`: both required keys are reported.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob()]
struct Payload;

fn main() {
    let _ = Payload::KIND;
}
