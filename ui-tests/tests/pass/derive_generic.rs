//! Generic types: lifetimes, bounds, const generics and where clauses carry through, and
//! the derive adds no bounds of its own.
use std::fmt::Debug;
use std::marker::PhantomData;
use std::time::Duration;

use oob::OobPayload;

#[derive(OobPayload)]
#[oob(kind = "elicit", route = "/oob/elicit/{id}", ttl = "2h")]
struct Elicit<'a, T: Clone + 'a, const N: usize>
where
    T: Debug,
{
    fields: [&'a T; N],
}

/// No bound at all on `T`: the impl holds for every `T`, even one that is not `Clone`.
#[derive(OobPayload)]
#[oob(kind = "wrapped", route = "/w/{id}")]
struct Wrapped<T>(PhantomData<T>);

struct NotClone;

fn kind_of<P: OobPayload>() -> &'static str {
    P::KIND
}

fn main() {
    assert_eq!(<Elicit<'static, String, 2>>::KIND, "elicit");
    assert_eq!(<Elicit<'static, String, 2>>::ROUTE, "/oob/elicit/{id}");
    assert_eq!(
        <Elicit<'static, u8, 0>>::DEFAULT_TTL,
        Some(Duration::from_secs(7200))
    );
    assert_eq!(kind_of::<Elicit<'static, u8, 1>>(), "elicit");
    assert_eq!(kind_of::<Wrapped<NotClone>>(), "wrapped");
    assert_eq!(<Wrapped<NotClone>>::ROUTE, "/w/{id}");
    let one = String::from("x");
    let _ = Elicit { fields: [&one] };
}
