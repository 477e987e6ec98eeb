//! OAuth consents against a real authorization server (`oidc-provider`, run by Node on a
//! loopback port): consent with PKCE, the token used at the provider, refresh after expiry,
//! one refresh across replicas, a revoked grant asking again, revocation, a declined consent,
//! and the hostile paths (wrong state, replayed callback, another user, signed out).
//!
//! One file each: the fixture (`fixture`), the grant's life (`consent`), the hostile paths
//! (`hostile`), and an unparsable token answer (`unparsable_answer`).

mod oauth_support;

#[path = "oauth/fixture.rs"]
mod fixture;

#[path = "oauth/consent.rs"]
mod consent;

#[path = "oauth/hostile.rs"]
mod hostile;

#[path = "oauth/unparsable_answer.rs"]
mod unparsable_answer;
