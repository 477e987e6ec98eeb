//! The impl names everything by absolute path: local items named like the types it uses
//! (`str`, `Option`, `Some`, `Duration`, a `core` module) change nothing, at the crate root
//! or in a module.
#![allow(non_camel_case_types, dead_code)]

use oob::OobPayload;

struct str;
struct Option;
struct Some;
struct Duration;
mod core {}

#[derive(OobPayload)]
#[oob(kind = "hygiene", route = "/oob/hygiene/{id}", ttl = "5m")]
struct AtRoot<T>(T);

mod inner {
    use oob::OobPayload;

    pub(crate) struct str;
    pub(crate) type Option = ();

    #[derive(OobPayload)]
    #[oob(kind = "hygiene.inner", route = "/oob?id={id}")]
    pub(crate) enum Inner {
        A,
    }
}

fn main() {
    assert_eq!(<AtRoot<u8>>::KIND, "hygiene");
    assert_eq!(<AtRoot<u8>>::ROUTE, "/oob/hygiene/{id}");
    assert_eq!(
        <AtRoot<u8>>::DEFAULT_TTL,
        ::core::option::Option::Some(::std::time::Duration::from_secs(300))
    );
    assert_eq!(inner::Inner::KIND, "hygiene.inner");
    assert_eq!(inner::Inner::DEFAULT_TTL, ::core::option::Option::None);
}
