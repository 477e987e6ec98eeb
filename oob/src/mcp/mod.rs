//! MCP protocol values for URL-mode elicitation, built from pendings, for both protocol
//! revisions a server meets today (feature `mcp`; no MCP SDK needed).
//!
//! - **2025-11-25** (URL-mode elicitation, SEP-1036): [`UrlElicitation`] is the
//!   `elicitation/create` params with the pending id as `elicitationId`;
//!   [`UrlElicitationRequired`] is the `-32042` error carrying one or several of them;
//!   [`ElicitationComplete`] is the `notifications/elicitation/complete` notification for a
//!   completed pending.
//! - **2026-07-28** (multi round-trip requests, SEP-2322): [`InputRequired`] is the
//!   `input_required` result with URL-mode input requests keyed by name and a
//!   [sealed](StateKeys) `requestState` bound to the caller's namespace, the method, a
//!   digest of the original params and an expiry. On the retry, [`StateKeys::open`] checks
//!   all of that and [`resume`] decides from the pendings' states whether to ask again,
//!   proceed or fail. A [`StateGuard`] makes each state single use: it is consumed when the
//!   retry proceeds ([`MemoryStateGuard`] in one process; a shared guard across replicas).
//! - [`ElicitationModes`] is what the client declared: nothing here builds a mode the
//!   client did not declare.
//! - [`policy`]: a pending's URL never goes into form mode, and a URL carries nothing but the
//!   opaque pending id (no namespace, no payload, no credentials).
//!
//! ```
//! use oob::{CallbackBase, Manager, OobPayload, Spec};
//! use oob::mcp::{ElicitationModes, UrlElicitation, UrlElicitationRequired};
//! use oob::provider::FixedNamespace;
//! use oob::store::MemoryStore;
//! use serde_json::json;
//!
//! #[derive(Clone, OobPayload)]
//! #[oob(kind = "api_key", route = "/oob/key/{id}")]
//! struct ApiKey;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let manager = Manager::builder()
//!     .store(MemoryStore::new())
//!     .provider(FixedNamespace::new("alice".parse()?))
//!     .callback_base(CallbackBase::parse("https://mcp.example.com")?)
//!     .build();
//! let open = manager.create(&(), Spec::new(ApiKey)).await?;
//!
//! // What the client declared in `initialize`.
//! let modes = ElicitationModes::from_capabilities(&json!({"elicitation": {"url": {}}}));
//! let elicitation = UrlElicitation::new(&open, "Please provide your API key.", modes)?;
//! let error = UrlElicitationRequired::new(elicitation).to_error_value();
//! assert_eq!(error["code"], -32042);
//! assert_eq!(error["data"]["elicitations"][0]["elicitationId"], open.id().to_string());
//! # Ok(()) }
//! ```

mod canonical;
mod capability;
mod error;
mod guard;
pub mod policy;
#[cfg(feature = "redis")]
mod redis_guard;
mod resume;
mod revision;
#[cfg(feature = "rmcp")]
pub mod rmcp;
mod state;
#[cfg(test)]
mod test_support;
mod v2025;
mod v2026;

pub use canonical::{canonical_json, params_digest};
pub use capability::ElicitationModes;
pub use error::{McpError, ModeError};
pub use guard::{GuardError, MemoryStateGuard, StateGuard};
pub use policy::PolicyError;
#[cfg(feature = "redis")]
pub use redis_guard::RedisStateGuard;
pub use resume::{Resume, ResumeFailure, resume};
pub use revision::Revision;
pub use state::{
    Binding, KeyError, MAX_IDS, MAX_STATE_LEN, MIN_KEY_LEN, OpenedState, StateError, StateKeys,
};
pub use v2025::{ElicitationComplete, UrlElicitation, UrlElicitationRequired};
pub use v2026::{InputRequest, InputRequired, missing_capability_error};

/// The `elicitation/create` method.
pub const ELICITATION_CREATE: &str = "elicitation/create";
/// The `notifications/elicitation/complete` method (revision 2025-11-25).
pub const ELICITATION_COMPLETE: &str = "notifications/elicitation/complete";
/// The JSON-RPC error code of `URLElicitationRequiredError` (revision 2025-11-25).
pub const URL_ELICITATION_REQUIRED: i64 = -32042;
/// The JSON-RPC error code for a missing required client capability (revision 2026-07-28).
pub const MISSING_REQUIRED_CLIENT_CAPABILITY: i64 = -32021;
/// The `_meta` key under which a 2026-07-28 client sends its capabilities with each request.
pub const CLIENT_CAPABILITIES_META: &str = "io.modelcontextprotocol/clientCapabilities";
