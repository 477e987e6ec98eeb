//! [`CallbackBase`]: the base URL that callback URLs start with, checked once.

/// The base URL that callback URLs start with, e.g. `https://mcp.example.com`.
///
/// ```
/// use oob::CallbackBase;
/// assert!(CallbackBase::parse("https://mcp.example.com").is_ok());
/// assert!(CallbackBase::parse("http://127.0.0.1:8080/app/").is_ok());
/// assert!(CallbackBase::parse("ftp://x").is_err());
/// assert!(CallbackBase::parse("https://x/?q=1").is_err());
/// assert!(CallbackBase::parse("http://[::1]:8080").is_ok());
/// // Bases that a URL parser would read otherwise, or not at all.
/// for bad in [
///     "https://evil.example\\good.example",
///     "https://:443",
///     "https://x.example:",
///     "https://x.example:99999",
///     "https://[::1",
///     "http://-x",
///     "https://caf\u{e9}.example",
///     "https://x.example/<a>",
/// ] {
///     assert!(CallbackBase::parse(bad).is_err(), "{bad}");
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackBase(String);

/// Why a string is not a [`CallbackBase`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackBaseError {
    /// Not `http://` or `https://`.
    #[error("callback base must start with https:// (or http:// for local development)")]
    Scheme,
    /// No host after the scheme.
    #[error("callback base has no host")]
    NoHost,
    /// Has a query, fragment, userinfo, whitespace, control character, or a character a URL
    /// does not carry as is (non-ASCII, `\`, `"`, `<`, `>`, `^`, `` ` ``, `|`).
    #[error(
        "callback base must be a plain origin with an optional path: no query, fragment, credentials, spaces or characters a URL does not carry as is (percent-encode them)"
    )]
    NotPlain,
    /// The host is not a name of ASCII letters, digits, `-` and `.`, nor an IPv6 literal
    /// in brackets.
    #[error(
        "callback base's host must be ASCII letters, digits, `-` and `.` (the punycode form of an international name), or an IPv6 address in brackets"
    )]
    Host,
    /// The port is not a number from 1 to 65535.
    #[error("callback base's port must be a number from 1 to 65535")]
    Port,
}

impl CallbackBase {
    /// Validates a base URL: `http` or `https`, a host (an ASCII name, the punycode form of
    /// an international one, or an IPv6 literal in brackets), an optional port from 1 to
    /// 65535, an optional path; no query, fragment or credentials, and only characters a
    /// URL carries as is. A trailing `/` is dropped.
    pub fn parse(base: &str) -> Result<Self, CallbackBaseError> {
        let rest = base
            .strip_prefix("https://")
            .or_else(|| base.strip_prefix("http://"))
            .ok_or(CallbackBaseError::Scheme)?;
        if base.chars().any(|c| {
            !c.is_ascii()
                || c.is_ascii_whitespace()
                || c.is_ascii_control()
                || matches!(
                    c,
                    '?' | '#' | '@' | '{' | '}' | '\\' | '"' | '<' | '>' | '^' | '`' | '|'
                )
        }) {
            return Err(CallbackBaseError::NotPlain);
        }
        let authority = rest.split('/').next().unwrap_or("");
        let port = match authority.strip_prefix('[') {
            // An IPv6 literal: `[` hex digits, `:` and `.` `]`, then maybe `:port`.
            Some(v6) => {
                let (addr, after) = v6.split_once(']').ok_or(CallbackBaseError::Host)?;
                if addr.is_empty()
                    || !addr
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
                {
                    return Err(CallbackBaseError::Host);
                }
                match after {
                    "" => None,
                    _ => Some(after.strip_prefix(':').ok_or(CallbackBaseError::Host)?),
                }
            }
            None => {
                let (host, port) = match authority.split_once(':') {
                    Some((h, p)) => (h, Some(p)),
                    None => (authority, None),
                };
                if host.is_empty() {
                    return Err(CallbackBaseError::NoHost);
                }
                if !host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                    || host.starts_with(['-', '.'])
                {
                    return Err(CallbackBaseError::Host);
                }
                port
            }
        };
        // 1 to 65535, digits only (`u16`'s parse alone would take a `+`).
        if port.is_some_and(|p| {
            !p.bytes().all(|b| b.is_ascii_digit())
                || p.parse::<u16>().is_err()
                || p.starts_with('0')
        }) {
            return Err(CallbackBaseError::Port);
        }
        Ok(Self(base.trim_end_matches('/').to_owned()))
    }

    /// The base, without a trailing `/`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for CallbackBase {
    type Err = CallbackBaseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}
