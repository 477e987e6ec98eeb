//! `Debug` redaction: every public type of `oob` that can hold a secret (a payload, a stored
//! credential, key material, a tool call's arguments or `requestState`) or a namespace (often
//! an e-mail address) is formatted with `{:?}` and `{:#?}`, and neither canary may appear.
//!
//! A source error written by the user may print what it likes; the sources used here print
//! the canaries only in their `Display`, never in their `Debug`, so what is checked is what
//! `oob`'s own types print (and that they do not render a source with `Display`).
//!
//! One file per kind of value: the checker itself (`leaks`), the core types
//! (`core_types`), what the store SPI sees (`store_spi`), errors (`errors`), the durable
//! stores (`stores`) and vaults (`vaults`), the HTTP extractors (`http`) and the MCP glue
//! (`mcp`).

#[path = "redaction/leaks.rs"]
mod leaks;

#[path = "redaction/core_types.rs"]
mod core_types;

#[path = "redaction/store_spi.rs"]
mod store_spi;

#[path = "redaction/errors.rs"]
mod errors;

#[path = "redaction/stores.rs"]
mod stores;

#[path = "redaction/vaults.rs"]
mod vaults;

#[path = "redaction/http.rs"]
mod http;

#[path = "redaction/mcp.rs"]
mod mcp;

use std::fmt;
use std::time::Duration;

use oob::provider::{FromVerifiedSubject, VerifiedSubject};
use oob::store::MemoryStore;
use oob::time::TokioClock;
use oob::{CallbackBase, Manager, Namespace, OobPayload, Spec};

/// The secret every payload, credential and key here carries.
const SECRET: &str = "CANARY-SECRET-7f3a";
/// The namespace every pending here belongs to.
const NS: &str = "canary-ns-9c1e@example.com";

/// A payload holding a secret, with a derived `Debug` that prints it (as a user's would).
#[derive(Debug, Clone, PartialEq, Eq, OobPayload, serde::Serialize, serde::Deserialize)]
#[oob(kind = "secret_form", route = "/oob/secret/{id}", ttl = "10m")]
struct Secret {
    value: String,
}

fn secret() -> Secret {
    Secret {
        value: SECRET.to_owned(),
    }
}

fn canary_ns() -> Namespace {
    Namespace::new(NS).expect("valid namespace")
}

fn subject() -> VerifiedSubject {
    VerifiedSubject::new(canary_ns())
}

/// A spec whose payload and labels all carry a canary.
fn spec() -> Spec<Secret> {
    Spec::new(secret())
        .alias(SECRET)
        .resource(NS)
        .elicit_id(SECRET)
}

/// A user-written error: both canaries in its `Display`, neither in its `Debug`.
struct UserError;

impl fmt::Debug for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UserError")
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "backend said {SECRET} for {NS}")
    }
}

impl std::error::Error for UserError {}

type M = Manager<Secret, MemoryStore<Secret>, FromVerifiedSubject>;

fn manager() -> M {
    Manager::builder()
        .store(MemoryStore::new())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("valid base"))
        .clock(TokioClock::new())
        .decline_cooldown(Duration::from_secs(60))
        .build()
}
