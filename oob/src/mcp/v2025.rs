//! Revision 2025-11-25: URL-mode `elicitation/create`, the `-32042` error and the
//! completion notification, with the pending id as the `elicitationId`.

use serde::Serialize;
use serde_json::{Value, json};

use super::capability::ElicitationModes;
use super::error::McpError;
use super::{ELICITATION_COMPLETE, ELICITATION_CREATE, URL_ELICITATION_REQUIRED, policy};
use crate::pending::Pending;
use crate::state::{Completed, Open};

/// The params of a URL-mode `elicitation/create` request (2025-11-25) for an open pending:
/// `{"mode":"url","elicitationId":<pending id>,"url":<callback URL>,"message":...}`. Only
/// [`new`](Self::new) makes one (it is not `Deserialize`), so every one went through the
/// client's declared modes and the URL policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename = "url", rename_all = "camelCase")]
pub struct UrlElicitation {
    elicitation_id: String,
    url: String,
    message: String,
}

impl UrlElicitation {
    /// The elicitation of `pending`, whose callback URL the user opens. Fails when the client
    /// did not declare URL mode ([`McpError::Mode`]) or the URL carries more than the
    /// opaque id ([`McpError::Policy`]).
    pub fn new<T>(
        pending: &Pending<T, Open>,
        message: impl Into<String>,
        modes: ElicitationModes,
    ) -> Result<Self, McpError> {
        let url = policy::url_for(pending, modes)?;
        Ok(Self {
            elicitation_id: pending.id().to_string(),
            url,
            message: message.into(),
        })
    }

    /// The `elicitationId` (the pending id).
    #[must_use]
    pub fn elicitation_id(&self) -> &str {
        &self.elicitation_id
    }

    /// The URL.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The message shown to the user.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The params as JSON.
    #[must_use]
    pub fn to_params_value(&self) -> Value {
        json!({
            "mode": "url",
            "elicitationId": self.elicitation_id,
            "url": self.url,
            "message": self.message,
        })
    }

    /// The whole `elicitation/create` JSON-RPC request with the given request id.
    #[must_use]
    pub fn to_request_value(&self, id: impl Into<Value>) -> Value {
        json!({
            "jsonrpc": "2.0",
            "id": id.into(),
            "method": ELICITATION_CREATE,
            "params": self.to_params_value(),
        })
    }
}

/// The `URLElicitationRequiredError` (`-32042`, 2025-11-25): the answer to a request that
/// cannot proceed until one or several URL elicitations finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlElicitationRequired {
    message: String,
    elicitations: Vec<UrlElicitation>,
}

impl UrlElicitationRequired {
    /// The default error message.
    pub const MESSAGE: &'static str = "This request requires more information.";

    /// The error for `first` (the spec sends `-32042` only when an elicitation is needed, so
    /// there is no empty one); add more with [`and`](Self::and).
    ///
    /// ```compile_fail
    /// // No elicitation, no error: `new` takes one.
    /// let error = oob::mcp::UrlElicitationRequired::new([]);
    /// ```
    #[must_use]
    pub fn new(first: UrlElicitation) -> Self {
        Self {
            message: Self::MESSAGE.to_owned(),
            elicitations: vec![first],
        }
    }

    /// Adds `another` elicitation the request waits for.
    #[must_use]
    pub fn and(mut self, another: UrlElicitation) -> Self {
        self.elicitations.push(another);
        self
    }

    /// Replaces the error message.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// The error code, `-32042`.
    #[must_use]
    pub fn code(&self) -> i64 {
        URL_ELICITATION_REQUIRED
    }

    /// The error message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The elicitations.
    #[must_use]
    pub fn elicitations(&self) -> &[UrlElicitation] {
        &self.elicitations
    }

    /// The error's `data`: `{"elicitations": [...]}`.
    #[must_use]
    pub fn to_data_value(&self) -> Value {
        let list: Vec<Value> = self
            .elicitations
            .iter()
            .map(UrlElicitation::to_params_value)
            .collect();
        json!({ "elicitations": list })
    }

    /// The JSON-RPC error object: `{"code":-32042,"message":...,"data":{...}}`.
    #[must_use]
    pub fn to_error_value(&self) -> Value {
        json!({
            "code": URL_ELICITATION_REQUIRED,
            "message": self.message,
            "data": self.to_data_value(),
        })
    }
}

/// The `notifications/elicitation/complete` notification (2025-11-25) for a completed
/// pending, sent to the client that started the elicitation. Only [`new`](Self::new) makes
/// one (it is not `Deserialize`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ElicitationComplete {
    elicitation_id: String,
}

impl ElicitationComplete {
    /// The notification for `pending`. Only a completed pending has one.
    #[must_use]
    pub fn new<T>(pending: &Pending<T, Completed>) -> Self {
        Self {
            elicitation_id: pending.id().to_string(),
        }
    }

    /// The `elicitationId` (the pending id).
    #[must_use]
    pub fn elicitation_id(&self) -> &str {
        &self.elicitation_id
    }

    /// The notification's method.
    #[must_use]
    pub fn method(&self) -> &'static str {
        ELICITATION_COMPLETE
    }

    /// The params: `{"elicitationId": ...}`.
    #[must_use]
    pub fn to_params_value(&self) -> Value {
        json!({ "elicitationId": self.elicitation_id })
    }

    /// The whole JSON-RPC notification.
    #[must_use]
    pub fn to_notification_value(&self) -> Value {
        json!({
            "jsonrpc": "2.0",
            "method": ELICITATION_COMPLETE,
            "params": self.to_params_value(),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{ElicitationComplete, UrlElicitation, UrlElicitationRequired};
    use crate::mcp::test_support::{ApiKey, manager};
    use crate::mcp::{ElicitationModes, McpError, ModeError};
    use crate::spec::Spec;

    const URL: ElicitationModes = ElicitationModes::new(false, true);

    #[tokio::test]
    async fn url_elicitation_matches_the_spec_example() {
        let m = manager("https://mcp.example.com");
        let open = m.create(&(), Spec::new(ApiKey)).await.unwrap();
        let e =
            UrlElicitation::new(&open, "Please provide your API key to continue.", URL).unwrap();
        let id = open.id().to_string();
        let url = format!("https://mcp.example.com/ui/set_api_key/{id}");
        assert_eq!(
            e.to_request_value(3),
            json!({"jsonrpc":"2.0","id":3,"method":"elicitation/create",
                   "params":{"mode":"url","elicitationId":id,"url":url,
                             "message":"Please provide your API key to continue."}})
        );
        // The serde form is the same as the params.
        assert_eq!(serde_json::to_value(&e).unwrap(), e.to_params_value());
    }

    #[tokio::test]
    async fn no_url_for_a_client_without_url_mode() {
        let m = manager("https://mcp.example.com");
        let open = m.create(&(), Spec::new(ApiKey)).await.unwrap();
        let form_only = ElicitationModes::from_capabilities(&json!({"elicitation": {}}));
        let err = UrlElicitation::new(&open, "m", form_only).unwrap_err();
        assert!(matches!(
            err,
            McpError::Mode(ModeError::UrlNotDeclared { .. })
        ));
        assert!(UrlElicitation::new(&open, "m", ElicitationModes::NONE).is_err());
    }

    #[tokio::test]
    async fn a_base_with_a_query_is_refused_by_policy() {
        let m = manager("http://mcp.example.com");
        let open = m.create(&(), Spec::new(ApiKey)).await.unwrap();
        assert!(matches!(
            UrlElicitation::new(&open, "m", URL),
            Err(McpError::Policy(crate::mcp::PolicyError::Scheme))
        ));
    }

    #[tokio::test]
    async fn required_error_carries_every_elicitation() {
        let m = manager("https://mcp.example.com");
        let a = m.create(&(), Spec::new(ApiKey).alias("a")).await.unwrap();
        let b = m.create(&(), Spec::new(ApiKey).alias("b")).await.unwrap();
        let ea = UrlElicitation::new(&a, "Key for A", URL).unwrap();
        let eb = UrlElicitation::new(&b, "Key for B", URL).unwrap();
        let err = UrlElicitationRequired::new(ea.clone()).and(eb.clone());
        assert_eq!(
            err.to_error_value(),
            json!({"code":-32042,"message":"This request requires more information.",
                   "data":{"elicitations":[
                       {"mode":"url","elicitationId":a.id().to_string(),"url":a.callback_url(),"message":"Key for A"},
                       {"mode":"url","elicitationId":b.id().to_string(),"url":b.callback_url(),"message":"Key for B"}]}})
        );
        let one = UrlElicitationRequired::new(ea).with_message("Need a key.");
        assert_eq!(one.code(), -32042);
        assert_eq!(one.to_error_value()["message"], "Need a key.");
        assert_eq!(one.elicitations().len(), 1);
    }

    #[tokio::test]
    async fn completion_notification_for_a_completed_pending() {
        let m = manager("https://mcp.example.com");
        let open = m.create(&(), Spec::new(ApiKey)).await.unwrap();
        let done = m.complete(open).await.unwrap();
        let n = ElicitationComplete::new(&done);
        assert_eq!(
            n.to_notification_value(),
            json!({"jsonrpc":"2.0","method":"notifications/elicitation/complete",
                   "params":{"elicitationId":done.id().to_string()}})
        );
        assert_eq!(n.method(), "notifications/elicitation/complete");
    }
}
