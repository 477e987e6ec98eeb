//! `ttl` typos: a unit spelt out, a missing unit, a space, a fraction.
use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "a", route = "/a/{id}", ttl = "10min")]
struct A;

#[derive(OobPayload)]
#[oob(kind = "b", route = "/b/{id}", ttl = "10")]
struct B;

#[derive(OobPayload)]
#[oob(kind = "c", route = "/c/{id}", ttl = "1h 30m")]
struct C;

#[derive(OobPayload)]
#[oob(kind = "d", route = "/d/{id}", ttl = "1.5h")]
struct Payload;

fn main() {
    let _ = (A::KIND, B::KIND, C::KIND, Payload::KIND);
}
