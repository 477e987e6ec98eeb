//! Revision 2026-07-28: the `input_required` result with URL-mode input requests keyed by
//! name and a sealed `requestState`, and the missing-capability error.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde_json::{Map, Value, json};

use super::capability::ElicitationModes;
use super::error::McpError;
use super::policy::{self, PolicyError};
use super::state::{Binding, StateKeys};
use super::{ELICITATION_CREATE, MISSING_REQUIRED_CLIENT_CAPABILITY};
use crate::pending::Pending;
use crate::state::Open;

/// A URL-mode `elicitation/create` input request (2026-07-28: no `elicitationId`):
/// `{"method":"elicitation/create","params":{"mode":"url","url":...,"message":...}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRequest {
    url: String,
    message: String,
}

impl InputRequest {
    /// The input request that sends the user to `pending`'s callback URL. Fails when the
    /// client did not declare URL mode or the URL carries more than the opaque id.
    pub fn url<T>(
        pending: &Pending<T, Open>,
        message: impl Into<String>,
        modes: ElicitationModes,
    ) -> Result<Self, McpError> {
        let url = policy::url_for(pending, modes)?;
        Ok(Self {
            url,
            message: message.into(),
        })
    }

    /// The URL.
    #[must_use]
    pub fn url_str(&self) -> &str {
        &self.url
    }

    /// The message shown to the user.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The request as JSON.
    #[must_use]
    pub fn to_value(&self) -> Value {
        json!({
            "method": ELICITATION_CREATE,
            "params": {"mode": "url", "url": self.url, "message": self.message},
        })
    }
}

/// The `input_required` result (2026-07-28): what a `tools/call`, `prompts/get` or
/// `resources/read` answers while the user still has to act. Its `Debug` shows the request
/// names and whether a `requestState` is set, not the state (only signed, so readable).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct InputRequired {
    requests: BTreeMap<String, InputRequest>,
    request_state: Option<String>,
}

impl std::fmt::Debug for InputRequired {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputRequired")
            .field("requests", &self.requests.keys().collect::<Vec<_>>())
            .field("request_state", &self.request_state.as_ref().map(|_| ".."))
            .finish()
    }
}

impl InputRequired {
    /// An empty result; add requests with [`with_request`](Self::with_request).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the user, through URL mode, to act on each `(name, pending, message)`, with a
    /// `requestState` sealed by `keys` for `binding` and the pendings' ids. Each pending
    /// must belong to the binding's namespace ([`PolicyError::ForeignPending`]), and each
    /// name be given once ([`PolicyError::DuplicateName`]).
    pub fn for_pendings<'p, T: 'p>(
        keys: &StateKeys,
        binding: &Binding<'_>,
        modes: ElicitationModes,
        now: SystemTime,
        asks: impl IntoIterator<Item = (String, &'p Pending<T, Open>, String)>,
    ) -> Result<Self, McpError> {
        Self::for_pendings_of_kind(keys, binding, None, modes, now, asks)
    }

    /// [`for_pendings`](Self::for_pendings), also sealing the pendings' `kind`.
    pub(crate) fn for_pendings_of_kind<'p, T: 'p>(
        keys: &StateKeys,
        binding: &Binding<'_>,
        kind: Option<&str>,
        modes: ElicitationModes,
        now: SystemTime,
        asks: impl IntoIterator<Item = (String, &'p Pending<T, Open>, String)>,
    ) -> Result<Self, McpError> {
        let mut result = Self::new();
        let mut ids = Vec::new();
        for (name, pending, message) in asks {
            if pending.namespace() != binding.namespace() {
                return Err(PolicyError::ForeignPending.into());
            }
            ids.push(pending.id());
            // A state of more ids would not open again.
            if ids.len() > crate::mcp::MAX_IDS {
                return Err(PolicyError::TooManyPendings.into());
            }
            if result.requests.contains_key(&name) {
                return Err(PolicyError::DuplicateName.into());
            }
            result = result.with_request(name, InputRequest::url(pending, message, modes)?);
        }
        Ok(result.with_request_state(keys.seal_kind(binding, kind, &ids, now)))
    }

    /// Adds (or replaces) the input request `name`.
    #[must_use]
    pub fn with_request(mut self, name: impl Into<String>, request: InputRequest) -> Self {
        self.requests.insert(name.into(), request);
        self
    }

    /// Sets the `requestState` the client echoes on its retry.
    #[must_use]
    pub fn with_request_state(mut self, state: impl Into<String>) -> Self {
        self.request_state = Some(state.into());
        self
    }

    /// The input requests by name.
    #[must_use]
    pub fn requests(&self) -> &BTreeMap<String, InputRequest> {
        &self.requests
    }

    /// The `requestState`.
    #[must_use]
    pub fn request_state(&self) -> Option<&str> {
        self.request_state.as_deref()
    }

    /// The result as JSON: `{"resultType":"input_required","inputRequests":{...},
    /// "requestState":"..."}`.
    #[must_use]
    pub fn to_result_value(&self) -> Value {
        let mut out = Map::new();
        out.insert("resultType".into(), "input_required".into());
        if !self.requests.is_empty() {
            let requests: Map<String, Value> = self
                .requests
                .iter()
                .map(|(k, v)| (k.clone(), v.to_value()))
                .collect();
            out.insert("inputRequests".into(), Value::Object(requests));
        }
        if let Some(state) = &self.request_state {
            out.insert("requestState".into(), state.clone().into());
        }
        Value::Object(out)
    }
}

/// The JSON-RPC error (`-32021`, 2026-07-28) for a request whose client did not declare
/// URL-mode elicitation: `data.requiredCapabilities` is `{"elicitation":{"url":{}}}`.
#[must_use]
pub fn missing_capability_error() -> Value {
    json!({
        "code": MISSING_REQUIRED_CLIENT_CAPABILITY,
        "message": "This request requires URL-mode elicitation, which the client did not declare.",
        "data": {"requiredCapabilities": {"elicitation": {"url": {}}}},
    })
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use serde_json::json;

    use super::{InputRequest, InputRequired, missing_capability_error};
    use crate::Namespace;
    use crate::mcp::test_support::{ApiKey, manager, manager_for};
    use crate::mcp::{Binding, ElicitationModes, McpError, PolicyError, StateKeys};
    use crate::provider::VerifiedSubject;
    use crate::spec::Spec;

    const URL: ElicitationModes = ElicitationModes::new(false, true);

    #[tokio::test]
    async fn input_required_matches_the_spec_example() {
        let m = manager("https://mcp.example.com");
        let open = m.create(&(), Spec::new(ApiKey)).await.unwrap();
        let r = InputRequired::new()
            .with_request(
                "gh",
                InputRequest::url(&open, "Connect GitHub.", URL).unwrap(),
            )
            .with_request_state("opaque");
        assert_eq!(
            r.to_result_value(),
            json!({"resultType":"input_required",
                   "inputRequests":{"gh":{"method":"elicitation/create",
                       "params":{"mode":"url","url":open.callback_url(),"message":"Connect GitHub."}}},
                   "requestState":"opaque"})
        );
        assert!(
            r.to_result_value()["inputRequests"]["gh"]["params"]
                .get("elicitationId")
                .is_none()
        );
        assert!(InputRequest::url(&open, "m", ElicitationModes::new(true, false)).is_err());
    }

    #[tokio::test]
    async fn for_pendings_seals_their_ids_for_the_caller() {
        let m = manager_for();
        let alice = Namespace::new("alice").unwrap();
        let bob = Namespace::new("bob").unwrap();
        let a = m
            .create(&VerifiedSubject::new(alice.clone()), Spec::new(ApiKey))
            .await
            .unwrap();
        let keys = StateKeys::new([3u8; 32]).unwrap();
        let params = json!({"name": "list_repos"});
        let now = SystemTime::now();
        let b = Binding::new(&alice, "tools/call", &params);
        let r = InputRequired::for_pendings(
            &keys,
            &b,
            URL,
            now,
            [("gh".to_owned(), &a, "Key".to_owned())],
        )
        .unwrap();
        let state = r.request_state().unwrap();
        assert_eq!(keys.open(state, &b, now).unwrap().ids(), &[a.id()]);
        assert_eq!(r.requests().len(), 1);

        // Alice's pending can never be put in Bob's input_required.
        let as_bob = Binding::new(&bob, "tools/call", &params);
        let err = InputRequired::for_pendings(
            &keys,
            &as_bob,
            URL,
            now,
            [("gh".to_owned(), &a, "Key".to_owned())],
        );
        assert_eq!(err, Err(McpError::Policy(PolicyError::ForeignPending)));
    }

    #[tokio::test]
    async fn a_namespace_like_a_host_label_or_route_segment_is_still_asked() {
        // The callback URL is the base and the route around the id, the same for every user:
        // a namespace equal to a part of them (or found in them) is not refused.
        let m = manager_for();
        let keys = StateKeys::new([3u8; 32]).unwrap();
        let params = json!({"name": "t"});
        for name in ["mcp", "ui", "set_api_key", "example", "mcp.example.com"] {
            let ns = Namespace::new(name).unwrap();
            let open = m
                .create(&VerifiedSubject::new(ns.clone()), Spec::new(ApiKey))
                .await
                .unwrap();
            assert!(InputRequest::url(&open, "m", URL).is_ok(), "{name}");
            let b = Binding::new(&ns, "tools/call", &params);
            let asked = InputRequired::for_pendings(
                &keys,
                &b,
                URL,
                SystemTime::now(),
                [("k".to_owned(), &open, "m".to_owned())],
            );
            assert!(asked.is_ok(), "{name}");
            assert!(
                crate::mcp::UrlElicitation::new(&open, "m", URL).is_ok(),
                "{name}"
            );
        }
    }

    #[tokio::test]
    async fn at_most_max_ids_pendings_in_one_state() {
        let m = manager_for();
        let alice = Namespace::new("alice").unwrap();
        let mut open = Vec::new();
        for _ in 0..=crate::mcp::MAX_IDS {
            open.push(
                m.create(&VerifiedSubject::new(alice.clone()), Spec::new(ApiKey))
                    .await
                    .unwrap(),
            );
        }
        let keys = StateKeys::new([3u8; 32]).unwrap();
        let b = Binding::new(&alice, "tools/call", &json!({}));
        let now = SystemTime::now();
        let asks = |n: usize| {
            open[..n]
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("k{i}"), p, "m".to_owned()))
                .collect::<Vec<_>>()
        };
        // As many as a state holds: it opens again.
        let full =
            InputRequired::for_pendings(&keys, &b, URL, now, asks(crate::mcp::MAX_IDS)).unwrap();
        let opened = keys.open(full.request_state().unwrap(), &b, now).unwrap();
        assert_eq!(opened.ids().len(), crate::mcp::MAX_IDS);
        // One more is refused when asking, not when the retry comes back.
        let over = InputRequired::for_pendings(&keys, &b, URL, now, asks(open.len()));
        assert_eq!(over, Err(McpError::Policy(PolicyError::TooManyPendings)));
    }

    #[tokio::test]
    async fn two_requests_with_one_name_are_refused() {
        let m = manager_for();
        let alice = Namespace::new("alice").unwrap();
        let subject = VerifiedSubject::new(alice.clone());
        let a = m.create(&subject, Spec::new(ApiKey)).await.unwrap();
        let b = m.create(&subject, Spec::new(ApiKey)).await.unwrap();
        let keys = StateKeys::new([3u8; 32]).unwrap();
        let bind = Binding::new(&alice, "tools/call", &json!({}));
        let asks = [
            ("gh".to_owned(), &a, "m".to_owned()),
            ("gh".to_owned(), &b, "m".to_owned()),
        ];
        // Before, the client saw one request while the state named both pendings, so every
        // retry found the other open and asked again.
        let r = InputRequired::for_pendings(&keys, &bind, URL, SystemTime::now(), asks);
        assert_eq!(r, Err(McpError::Policy(PolicyError::DuplicateName)));
    }

    #[tokio::test]
    async fn debug_shows_no_request_state() {
        let m = manager_for();
        let alice = Namespace::new("alice").unwrap();
        let open = m
            .create(&VerifiedSubject::new(alice.clone()), Spec::new(ApiKey))
            .await
            .unwrap();
        let keys = StateKeys::new([3u8; 32]).unwrap();
        let b = Binding::new(&alice, "tools/call", &json!({}));
        let asked = InputRequired::for_pendings(
            &keys,
            &b,
            URL,
            SystemTime::now(),
            [("gh".to_owned(), &open, "m".to_owned())],
        )
        .unwrap();
        let state = asked.request_state().unwrap();
        let debug = format!("{asked:?}");
        assert!(
            !debug.contains(state) && !debug.contains(&state[..20]),
            "{debug}"
        );
        assert!(debug.contains("gh"), "{debug}");
    }

    #[test]
    fn missing_capability_error_shape() {
        assert_eq!(
            missing_capability_error(),
            json!({"code":-32021,
                   "message":"This request requires URL-mode elicitation, which the client did not declare.",
                   "data":{"requiredCapabilities":{"elicitation":{"url":{}}}}})
        );
    }
}
