//! [`EndpointError`]: what a provider's token or revocation endpoint answered, with none of
//! its text but an OAuth error code.

use oauth2::RequestTokenError;

use super::flow::{OAuthError, provider_error};
use super::http_client::HttpError;

/// What a token or revocation endpoint answered, keeping nothing of the response body (a
/// body that failed to parse may hold access and refresh tokens, and must not reach `Debug`
/// or a log).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// The provider answered with an OAuth error response: its `error` code only, such as
    /// `invalid_grant`, when it is one the OAuth RFCs, OpenID Connect or GitHub define
    /// (any other is `unrecognised`: it may be the request echoed). Its description and URI
    /// are not kept: a provider may echo the request there, tokens included.
    #[error("the provider answered: {0}")]
    Refused(String),
    /// The request could not be made or read.
    #[error("the request to the provider failed")]
    Request(#[source] HttpError),
    /// The answer did not parse; only where in it parsing failed is kept.
    #[error("the provider's answer could not be parsed (at `{0}`)")]
    Parse(String),
    /// Any other unexpected answer (its text is not kept).
    #[error("the provider answered unexpectedly")]
    Unexpected,
    /// No answer in time: a refresh got none before its lease (the time this replica alone
    /// may refresh) was about to end, and was abandoned, so no answer can arrive after
    /// another replica took over; or a code exchange got none within
    /// [`EXCHANGE_TIMEOUT`](super::EXCHANGE_TIMEOUT), whatever the HTTP client's own
    /// timeout.
    #[error("the provider did not answer in time")]
    TimedOut,
}

/// The `error` codes kept from a provider's answer: those the OAuth RFCs register for the
/// token, authorization, revocation and device endpoints (RFC 6749 §4.1.2.1 and §5.2,
/// RFC 7009, RFC 8628, RFC 8707), OpenID Connect's, and the ones GitHub answers instead of
/// `invalid_grant`. Any other code may be the provider echoing what it was sent (a code, a
/// verifier or a refresh token are made of the same letters), so it is not kept.
const KNOWN_CODES: &[&str] = &[
    "access_denied",
    "account_selection_required",
    "authorization_pending",
    "bad_refresh_token",
    "bad_verification_code",
    "consent_required",
    "expired_token",
    "incorrect_client_credentials",
    "interaction_required",
    "invalid_client",
    "invalid_grant",
    "invalid_request",
    "invalid_scope",
    "invalid_target",
    "invalid_token",
    "login_required",
    "redirect_uri_mismatch",
    "server_error",
    "slow_down",
    "temporarily_unavailable",
    "unauthorized_client",
    "unsupported_grant_type",
    "unsupported_response_type",
    "unsupported_token_type",
];

impl EndpointError {
    /// The `error` code of an OAuth error response (RFC 6749 §5.2), as kept in
    /// [`Refused`](Self::Refused): one of the registered codes (and GitHub's), else
    /// `unrecognised`, so that no other text of the provider's reaches an error message or
    /// a log (a provider echoing the request puts a credential there in the codes'
    /// alphabet).
    #[must_use]
    pub(crate) fn error_code(response: &serde_json::Value) -> String {
        response
            .get("error")
            .and_then(serde_json::Value::as_str)
            .filter(|c| KNOWN_CODES.contains(c))
            .unwrap_or("unrecognised")
            .to_owned()
    }

    /// The `error` code of a body that is an OAuth error response though its status said
    /// success (GitHub answers a bad code or refresh token with 200 and
    /// `{"error":"bad_verification_code"}`), as [`error_code`](Self::error_code) keeps it;
    /// `None` for any other body.
    pub(crate) fn error_in_body(body: &[u8]) -> Option<String> {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        value.get("error")?;
        Some(Self::error_code(&value))
    }
}

/// Maps an `oauth2` request error to a [`OAuthError::Provider`] that carries no response
/// body (of an error response, only its code).
pub(super) fn endpoint_error<T: oauth2::ErrorResponse>(
    e: RequestTokenError<HttpError, T>,
) -> OAuthError {
    provider_error(match e {
        RequestTokenError::ServerResponse(r) => EndpointError::Refused(EndpointError::error_code(
            &serde_json::to_value(&r).unwrap_or_default(),
        )),
        RequestTokenError::Request(e) => EndpointError::Request(e),
        RequestTokenError::Parse(e, body) => match EndpointError::error_in_body(&body) {
            Some(code) => EndpointError::Refused(code),
            None => EndpointError::Parse(e.path().to_string()),
        },
        RequestTokenError::Other(_) => EndpointError::Unexpected,
    })
}

#[cfg(test)]
mod tests {
    use super::EndpointError;

    const SECRET: &str = "rt-SECRET-1";

    /// `error_code` keeps a registered code and nothing else.
    #[test]
    fn an_error_code_is_kept_only_when_it_is_one() {
        let code = |v: serde_json::Value| EndpointError::error_code(&v);
        assert_eq!(
            code(serde_json::json!({"error": "invalid_grant"})),
            "invalid_grant"
        );
        assert_eq!(
            code(serde_json::json!({"error": "slow_down", "error_description": SECRET})),
            "slow_down"
        );
        for odd in [
            serde_json::json!({"error": format!("x {SECRET}")}),
            // Credentials in the codes' alphabet: a PKCE verifier, an authorization code.
            serde_json::json!({"error": "sIlnq_bV0rGpCuM_2XMfDuH9UUL468xDiep5D6w0smc"}),
            serde_json::json!({"error": "CODECANARY77"}),
            serde_json::json!({"error": "custom_provider_code"}),
            serde_json::json!({"error": "a".repeat(65)}),
            serde_json::json!({"error": ""}),
            serde_json::json!({"error": 7}),
            serde_json::json!({"error_description": SECRET}),
            serde_json::json!(SECRET),
        ] {
            assert_eq!(code(odd), "unrecognised");
        }
    }
}
