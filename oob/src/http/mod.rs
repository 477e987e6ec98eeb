//! HTTP callbacks (feature `axum`): serve the URL a pending interaction hands the user.
//!
//! The browser request carries no MCP credentials, only the pending id; the pending knows
//! the namespace. This module is the Rust equivalent of the Go `NamespaceFromPending`,
//! `IntoContext` and `FromContext`:
//!
//! - [`Interaction<T, U>`](Interaction): an axum extractor that takes the id from the
//!   route's `{id}` path parameter (or the route's query parameter), checks that the pending
//!   belongs to the browser user `U` identifies ([`ExtensionUser`], `SessionUser` with
//!   feature `tower-sessions`, or your [`BrowserUser`]) before it tells anything about the
//!   pending, and gives the handler the open [`Pending<T, Open>`](crate::Pending).
//!   [`UncheckedInteraction`] is the form without the check (the URL as a bearer capability).
//! - [`AntiForgery`]: form tokens bound to the pending and the browser session; every
//!   extractor also refuses cross-site form posts ([`check_same_origin`]).
//! - [`InteractionLayer`]: the same for any tower service, putting an
//!   [`InteractionContext`] in the request extensions.
//! - [`InteractionRejection`]: 400 malformed id, 403 signed out, another user, cross-site or
//!   forged, 404 unknown, 200 "already done" for the owner of a completed pending, 410
//!   cancelled or expired, 500 store failure; fixed HTML pages with a next step that never
//!   contain internal error text, the namespace or the payload.
//! - [`interaction_headers`]: `Cache-Control: no-store`, `Referrer-Policy: no-referrer`,
//!   `X-Content-Type-Options: nosniff`, `Content-Security-Policy: frame-ancestors 'none'`
//!   and `X-Frame-Options: DENY` on every response of your interaction routes (rejections
//!   set them on their own).
//!
//! Complete from the handler with [`Manager::complete_with`](crate::Manager::complete_with),
//! which persists under the pending's namespace before it wakes the waiting tool call. See
//! [`Interaction`] for a whole service.

mod extract;
mod forgery;
mod headers;
mod identity;
mod layer;
mod locate;
mod rejection;
#[cfg(feature = "tower-sessions")]
mod session;
mod source;

pub use extract::{Interaction, UncheckedInteraction};
pub use forgery::{AntiForgery, KeyError, check_same_origin};
pub use headers::{
    InteractionHeaders, InteractionHeadersLayer, interaction_headers, set_interaction_headers,
};
pub use identity::{BrowserIdentity, BrowserUser, ExtensionUser, OwnerCheck, Unchecked};
pub use layer::{InteractionContext, InteractionLayer, InteractionService};
pub use locate::route_path;
pub use rejection::{InteractionRejection, RejectionKind};
#[cfg(feature = "tower-sessions")]
pub use session::SessionUser;
pub use source::{InteractionSource, Interactions};
