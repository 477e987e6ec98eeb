//! Errors of the MCP value builders.

use super::capability::ElicitationModes;
use super::policy::PolicyError;

/// The client did not declare the elicitation mode a value needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ModeError {
    /// The client did not declare URL-mode elicitation; sending it would be answered with
    /// `-32602` (2025-11-25). Answer with
    /// [`missing_capability_error`](super::missing_capability_error) (2026-07-28) or a tool
    /// error instead.
    #[error("the client did not declare URL-mode elicitation")]
    UrlNotDeclared {
        /// What the client did declare.
        declared: ElicitationModes,
    },
}

/// Why an MCP value could not be built from a pending.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum McpError {
    /// The client does not accept the mode.
    #[error(transparent)]
    Mode(#[from] ModeError),
    /// The value would break a security rule.
    #[error(transparent)]
    Policy(#[from] PolicyError),
}
