//! HTTP callbacks (feature `axum`): serve the URL a pending interaction hands the user.
//!
//! The browser request carries no MCP credentials, only the pending id; the pending knows
//! the namespace. This module is the Rust equivalent of the Go `NamespaceFromPending`,
//! `IntoContext` and `FromContext`:
//!
//! - [`Interaction<T>`]: an axum extractor that takes the id from the route's `{id}` path
//!   parameter (or the route's query parameter), loads the open pending through the manager
//!   in the router state, and gives the handler the [`Pending<T, Open>`](crate::Pending)
//!   and its namespace. [`SessionInteraction`] adds a check that the pending belongs to the
//!   user the service signed in on the web (403 otherwise).
//! - [`InteractionLayer`]: the same for any tower service, putting an
//!   [`InteractionContext`] in the request extensions.
//! - [`InteractionRejection`]: 400 malformed id, 404 unknown, 410 finished or expired, 403
//!   wrong user, 500 store failure; fixed bodies that never contain internal error text, the
//!   namespace or the payload.
//! - [`interaction_headers`]: `Cache-Control: no-store`, `Referrer-Policy: no-referrer`,
//!   `X-Content-Type-Options: nosniff` on every response of your interaction routes
//!   (rejections set them on their own).
//!
//! Complete from the handler with [`Manager::complete_with`](crate::Manager::complete_with),
//! which persists under the pending's namespace before it wakes the waiting tool call. See
//! [`Interaction`] for a whole service.

mod extract;
mod headers;
mod layer;
mod locate;
mod rejection;

pub use extract::{Interaction, InteractionSource, Interactions, SessionInteraction};
pub use headers::{
    InteractionHeaders, InteractionHeadersLayer, interaction_headers, set_interaction_headers,
};
pub use layer::{InteractionContext, InteractionLayer, InteractionService};
pub use locate::route_path;
pub use rejection::{InteractionRejection, RejectionKind};
