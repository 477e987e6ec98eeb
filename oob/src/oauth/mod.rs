//! OAuth 2.1 consents as out-of-band interactions (feature `oauth`), on the `oauth2` crate.
//!
//! A tool that needs a third party's API calls [`OAuth::access_token`] with its caller's
//! context. The first time (or after [`OAuth::revoke`], or once a refresh finds the grant
//! revoked at the provider) that is [`OAuthError::ConsentRequired`], carrying the open
//! pending whose URL the user opens (an MCP URL elicitation, or a plain message).
//! [`OAuth::router`] serves that URL: it checks that the browser user is the pending's
//! owner before anything else, then redirects to the provider with PKCE (S256) and a
//! `state` that names the pending and carries a tag keyed by its PKCE verifier, so a
//! callback built from the pending's id alone is refused. The
//! provider's callback is owner-checked the same way and its `state` checked, the code is
//! exchanged, and the token set is stored in the
//! vault by the winning completion, under the pending's namespace and nowhere else. Later
//! calls get the access token from the vault, refreshed when it is about to expire (one
//! refresh at a time per user and provider across replicas, through the vault's
//! compare-and-swap); a rejected refresh token deletes the grant and asks again.
//!
//! The browser user's identity is, with [`OAuth::router`], the
//! [`VerifiedSubject`](crate::provider::VerifiedSubject) your web sign-in places in the
//! request extensions ([`OAuth::router_for`] takes another
//! [`BrowserUser`](crate::http::BrowserUser), such as a `tower-sessions` session): the same
//! namespace your [`NamespaceProvider`](crate::NamespaceProvider) derives for that user's
//! tool calls.

mod config;
mod consent;
mod endpoint;
mod exchanges;
mod finish;
mod flow;
mod grant;
mod http_client;
mod lease;
mod pages;
mod routes;
mod state;
mod tokens;

pub use config::{Provider, ProviderConfigError};
pub use consent::Consent;
pub use endpoint::EndpointError;
pub use finish::EXCHANGE_TIMEOUT;
pub use flow::{MAX_REFRESH_LEASE, MIN_REFRESH_LEASE, OAuth, OAuthError};
pub use http_client::{HttpError, MAX_RESPONSE_BODY};
pub use tokens::{AccessToken, TokenSet};
