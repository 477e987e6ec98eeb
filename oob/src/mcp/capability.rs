//! [`ElicitationModes`]: the elicitation modes a client declared.

use serde_json::Value;

use super::CLIENT_CAPABILITIES_META;
use super::error::ModeError;

/// The elicitation modes a client declared in its capabilities.
///
/// Per the specification, `"elicitation": {}` (neither `form` nor `url`) means form mode
/// only, and no `elicitation` member means no elicitation at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ElicitationModes {
    form: bool,
    url: bool,
}

impl ElicitationModes {
    /// No elicitation at all.
    pub const NONE: Self = Self {
        form: false,
        url: false,
    };

    /// Modes given explicitly (for clients whose capabilities were parsed elsewhere).
    #[must_use]
    pub const fn new(form: bool, url: bool) -> Self {
        Self { form, url }
    }

    /// The modes of a `ClientCapabilities` object (the `capabilities` of `initialize`, or
    /// the per-request capabilities of revision 2026-07-28).
    #[must_use]
    pub fn from_capabilities(capabilities: &Value) -> Self {
        capabilities
            .get("elicitation")
            .map_or(Self::NONE, Self::from_elicitation)
    }

    /// The modes of the `elicitation` capability object itself.
    #[must_use]
    pub fn from_elicitation(elicitation: &Value) -> Self {
        let Value::Object(map) = elicitation else {
            return Self::NONE;
        };
        let has = |k: &str| map.get(k).is_some_and(|v| !v.is_null());
        let (form, url) = (has("form"), has("url"));
        if !form && !url {
            // A bare `"elicitation": {}` means form mode only.
            return Self {
                form: true,
                url: false,
            };
        }
        Self { form, url }
    }

    /// The modes a 2026-07-28 request declares in its `_meta`
    /// (`io.modelcontextprotocol/clientCapabilities`); none when it declares no
    /// capabilities.
    #[must_use]
    pub fn from_request_meta(meta: &Value) -> Self {
        meta.get(CLIENT_CAPABILITIES_META)
            .map_or(Self::NONE, Self::from_capabilities)
    }

    /// Whether the client accepts form mode.
    #[must_use]
    pub fn form(&self) -> bool {
        self.form
    }

    /// Whether the client accepts URL mode.
    #[must_use]
    pub fn url(&self) -> bool {
        self.url
    }

    /// `Ok` when the client declared URL mode, [`ModeError::UrlNotDeclared`] otherwise.
    pub fn require_url(&self) -> Result<(), ModeError> {
        if self.url {
            Ok(())
        } else {
            Err(ModeError::UrlNotDeclared { declared: *self })
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::ElicitationModes;
    use crate::mcp::ModeError;

    #[test]
    fn declared_modes_are_parsed_per_the_spec() {
        let both =
            ElicitationModes::from_capabilities(&json!({"elicitation": {"form": {}, "url": {}}}));
        assert!(both.form() && both.url());
        let url = ElicitationModes::from_capabilities(&json!({"elicitation": {"url": {}}}));
        assert!(!url.form() && url.url());
        let bare = ElicitationModes::from_capabilities(&json!({"elicitation": {}}));
        assert_eq!(bare, ElicitationModes::new(true, false));
        let none = ElicitationModes::from_capabilities(&json!({"sampling": {}}));
        assert_eq!(none, ElicitationModes::NONE);
        let odd = ElicitationModes::from_capabilities(&json!({"elicitation": true}));
        assert_eq!(odd, ElicitationModes::NONE);
    }

    #[test]
    fn require_url_refuses_undeclared_url_mode() {
        let bare = ElicitationModes::from_capabilities(&json!({"elicitation": {}}));
        assert!(matches!(
            bare.require_url(),
            Err(ModeError::UrlNotDeclared { declared }) if declared.form()
        ));
        assert!(ElicitationModes::new(false, true).require_url().is_ok());
    }

    #[test]
    fn per_request_capabilities_come_from_meta() {
        let meta =
            json!({"io.modelcontextprotocol/clientCapabilities": {"elicitation": {"url": {}}}});
        assert!(ElicitationModes::from_request_meta(&meta).url());
        assert_eq!(
            ElicitationModes::from_request_meta(&json!({})),
            ElicitationModes::NONE
        );
    }
}
