//! `#[derive(OobPayload)]` for the [`oob`](https://docs.rs/oob) crate.
//!
//! Use it through `oob`, which re-exports it beside the trait:
//!
//! ```ignore
//! use oob::OobPayload;
//!
//! #[derive(OobPayload)]
//! #[oob(kind = "device_code", route = "/oob/device/{id}", ttl = "10m")]
//! struct DeviceCode {
//!     user_code: String,
//! }
//! ```
//!
//! Keys of `#[oob(...)]` (they may be split over several attributes):
//!
//! - `kind` (required): matches `[a-z][a-z0-9_.-]*`, at most 64 bytes;
//! - `route` (required): starts with `/` and holds exactly one `{id}` placeholder, as a path
//!   segment or a query value, and no other placeholder, fragment, space or control character;
//! - `ttl` (optional): the default TTL as `<number><unit>` groups with unit `s`, `m` or `h`,
//!   e.g. `"90s"`, `"10m"`, `"1h30m"`;
//! - `crate` (optional): the path of the `oob` crate for re-exporters, default `::oob`.
//!
//! Every mistake is a compile error pointing at the offending token, and all mistakes of
//! one type are reported together.

mod ast;
mod attr;
mod expand;
mod valid;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Implements `oob::OobPayload` from the `#[oob(...)]` attributes; see the crate docs.
#[proc_macro_derive(OobPayload, attributes(oob))]
pub fn derive_oob_payload(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}
