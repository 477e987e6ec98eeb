//! [`TokenSet`]: what a completed OAuth consent stores in the vault, and [`AccessToken`].

use std::fmt;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// An access token, to send to the provider's API. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// The token, for an `Authorization: Bearer` header.
    #[must_use]
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(..)")
    }
}

/// The tokens a consent obtained, as the vault keeps them (under the user's namespace and
/// the provider's key). `Debug` prints no token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSet {
    access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    /// When the access token expires (Unix milliseconds), if the provider said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at_ms: Option<u64>,
    #[serde(default)]
    scopes: Vec<String>,
    /// While a replica refreshes, until when it holds the refresh (Unix milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refreshing_until_ms: Option<u64>,
    /// The lease's refresh was abandoned (no answer in time): the lease is kept to its end,
    /// as the provider may still act on the request, but nobody waits for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    abandoned: bool,
    /// The lease's random id: two leases never read the same, so a replica knows its own
    /// lease again after a re-seal gave it a new version (see `lease.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lease_id: Option<String>,
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("expires_at_ms", &self.expires_at_ms)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

fn ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `now + d` in ms since the epoch, saturating: a provider's `expires_in` or a setting as
/// large as `u64::MAX` seconds means "never" here, not a panic.
fn ms_after(now: SystemTime, d: Duration) -> u64 {
    now.checked_add(d).map_or(u64::MAX, ms)
}

impl TokenSet {
    /// A token set from a token response received at `now`.
    pub(crate) fn new(
        access_token: String,
        refresh_token: Option<String>,
        expires_in: Option<Duration>,
        scopes: Vec<String>,
        now: SystemTime,
    ) -> Self {
        Self {
            access_token,
            refresh_token,
            expires_at_ms: expires_in.map(|d| ms_after(now, d)),
            scopes,
            refreshing_until_ms: None,
            abandoned: false,
            lease_id: None,
        }
    }

    /// The access token.
    #[must_use]
    pub fn access_token(&self) -> AccessToken {
        AccessToken(self.access_token.clone())
    }

    /// The refresh token, if the provider issued one.
    #[must_use]
    pub fn refresh_token(&self) -> Option<&str> {
        self.refresh_token.as_deref()
    }

    /// When the access token expires, if the provider said.
    #[must_use]
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at_ms
            .and_then(|m| SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(m)))
    }

    /// The scopes granted (as the token response listed them, else as requested).
    #[must_use]
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Whether the access token expires within `margin` of `now`.
    pub(crate) fn needs_refresh(&self, now: SystemTime, margin: Duration) -> bool {
        self.expires_at_ms
            .is_some_and(|e| e <= ms_after(now, margin))
    }

    /// Whether another replica holds the refresh at `now`.
    pub(crate) fn is_leased(&self, now: SystemTime) -> bool {
        self.refreshing_until_ms.is_some_and(|u| u > ms(now))
    }

    /// Whether the refresh another replica holds at `now` was abandoned (see
    /// [`abandoned`](Self::abandoned)): nothing will come of it before its lease ends.
    pub(crate) fn is_abandoned(&self, now: SystemTime) -> bool {
        self.abandoned && self.is_leased(now)
    }

    /// The same tokens, marked as being refreshed until `until`.
    pub(crate) fn leased_until(&self, until: SystemTime) -> Self {
        Self {
            refreshing_until_ms: Some(ms(until)),
            abandoned: false,
            lease_id: Some(crate::PendingId::random().to_string()),
            ..self.clone()
        }
    }

    /// The same lease, its refresh abandoned: kept until it ends, waited for by nobody.
    pub(crate) fn abandoned(&self) -> Self {
        Self {
            abandoned: true,
            ..self.clone()
        }
    }

    /// The same tokens with `refresh` as the refresh token.
    pub(crate) fn with_refresh_token(self, refresh: String) -> Self {
        Self {
            refresh_token: Some(refresh),
            ..self
        }
    }

    /// The same tokens with no refresh in progress.
    pub(crate) fn released(&self) -> Self {
        Self {
            refreshing_until_ms: None,
            abandoned: false,
            lease_id: None,
            ..self.clone()
        }
    }
}
