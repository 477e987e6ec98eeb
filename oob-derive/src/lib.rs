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
//!   it is axum 0.8's syntax, so `{id}`, not axum 0.7's `:id`;
//! - `ttl` (optional): the default TTL as `<number><unit>` groups with unit `s`, `m` or `h`,
//!   e.g. `"90s"`, `"10m"`, `"1h30m"`;
//! - `crate` (optional): the path of the `oob` crate, default `::oob`; for crates that
//!   re-export `oob` (`crate = "my_reexport::oob"`), and for a dependency renamed in
//!   `Cargo.toml`: with `oob2 = { package = "oob", .. }` write `#[oob(crate = "oob2")]`,
//!   since without it the impl names `::oob` and fails to resolve.
//!
//! Every mistake is a compile error pointing at the offending token, and all mistakes of
//! one type are reported together.
//!
//! On a generic type, every instantiation gets the same `kind` and `route`: `Approval<Login>`
//! and `Approval<Refund>` are one kind to a store. Two managers over those two types on one
//! durable backend (a SQLite file, a Postgres schema, a Redis prefix) read and complete each
//! other's pendings. Give each instantiation its own backend, or make them distinct payload
//! types, each with its own `kind`.

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
