//! Several mistakes in one input: every one is reported, each at its token.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "Device Code", route = "oob/device")]
#[oob(ttl = "10 minutes", kind = "again", colour = "blue")]
struct Payload<T>
where
    T: Clone,
{
    code: T,
}

fn main() {
    let _ = Payload::<u8>::KIND;
}
