//! # oob: typed, namespace-safe out-of-band interactions
//!
//! A service (above all an MCP server) that must ask its end user for something outside the
//! conversation (an OAuth consent, a device code, a secret, a confirmation) creates a
//! *pending interaction* bound to the caller's [`Namespace`], hands the user a callback URL,
//! and completes the pending exactly once when the user is done. The [`NamespaceToken`] that
//! namespaced persistence ([`vault::Vault`]) accepts comes from two places only: the call
//! that wins a pending's completion (in its persist step, for that pending's namespace) and
//! [`Manager::caller`] (the namespace provider applied to a verified caller), so one user's
//! credentials can never be stored under, or read from, another user's namespace.
//!
//! - [`OobPayload`] (derived) binds a payload type to its kind and callback route.
//! - [`Manager`] creates, completes, cancels, lists, waits and dedups, atomically in its
//!   [`Store`] ([`store::MemoryStore`] here; SQLite, Postgres and Redis behind features).
//! - [`Pending<T, S>`] moves through the sealed [`state`]s `Open` → `Completed` |
//!   `Cancelled` | `Expired`.
//! - [`NamespaceProvider`]s derive the namespace from the caller's verified context.
//!
//! See [`Manager`] for the whole flow in one example.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod capability;
mod codec_error;
pub mod error;
#[cfg(feature = "axum")]
pub mod http;
pub mod id;
#[cfg(feature = "integrity")]
pub mod integrity;
pub mod manager;
#[cfg(feature = "mcp")]
pub mod mcp;
pub mod namespace;
#[cfg(feature = "oauth")]
pub mod oauth;
mod observe;
pub mod payload;
pub mod pending;
pub mod provider;
mod route_rule;
pub mod spec;
pub mod state;
pub mod store;
pub mod time;
pub mod vault;

pub use capability::{Capability, NamespaceToken};
pub use codec_error::{CodecError, CodecFailure};
pub use error::Error;
pub use id::{PendingId, PendingIdError};
pub use manager::{CallbackBase, Joined, Manager, ManagerBuilder, Outcome, Sweeper};
pub use namespace::{Namespace, NamespaceError};
pub use oob_derive::OobPayload;
pub use payload::OobPayload;
pub use pending::{AnyPending, Pending};
pub use provider::NamespaceProvider;
pub use spec::Spec;
pub use store::Store;

/// The repository README's code blocks, compiled and run as doctests. (`cfg(doctest)`: not
/// expanded in a normal build, so the packaged crate, which has no `../../README.md`, builds.)
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// The crate README's code blocks (what crates.io shows), compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct CrateReadmeDoctests;
