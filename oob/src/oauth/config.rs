//! [`Provider`]: an OAuth 2.1 authorization server and this service's client registration.

use std::fmt;

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, ClientId, ClientSecret, EndpointMaybeSet, EndpointNotSet, EndpointSet, RedirectUrl,
    RevocationUrl, TokenUrl,
};

/// Why a [`Provider`] could not be configured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderConfigError {
    /// An endpoint or the redirect URL is not a valid URL.
    #[error("{which} is not a valid URL")]
    Url {
        /// Which URL.
        which: &'static str,
        /// Why.
        #[source]
        source: oauth2::url::ParseError,
    },
    /// The revocation endpoint is plain `http` on a host other than loopback.
    #[error("the revocation URL must be https (plain http only on a loopback host)")]
    Insecure,
    /// The redirect URL's path has a segment starting with `:` or `*`, which the callback
    /// router (axum) reads as a capture and refuses: rename that segment.
    #[error("the redirect URL's path has a segment starting with `:` or `*`; rename that segment")]
    RedirectPath,
    /// The provider's name is empty, longer than 64 bytes or not `[a-z0-9_.-]`.
    #[error("the provider name must be 1 to 64 lowercase ASCII letters, digits, `_`, `.` or `-`")]
    Name,
}

pub(crate) type Client =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointSet>;

/// An authorization server (GitHub, Google, a database console, any OAuth 2.1 / OIDC
/// provider) and this service's registration with it.
///
/// ```
/// use oob::oauth::Provider;
/// let github = Provider::new(
///     "github",
///     "client-id",
///     "https://github.com/login/oauth/authorize",
///     "https://github.com/login/oauth/access_token",
///     "https://mcp.example.com/oob/oauth/callback",
/// )?
/// .client_secret("client-secret")
/// .scopes(["repo"]);
/// assert_eq!(github.vault_key(), "oauth:github");
///
/// // The name is the vault key's tail: short, lowercase, no spaces.
/// let urls = ["https://a.example/authorize", "https://a.example/token", "https://b.example/cb"];
/// for bad in ["", "GitHub", "git hub", &"g".repeat(65)] {
///     assert!(Provider::new(bad, "id", urls[0], urls[1], urls[2]).is_err());
/// }
/// // The redirect path is a route of this service: no `:` or `*` segment.
/// assert!(Provider::new("a", "id", urls[0], urls[1], "https://b.example/cb/:user").is_err());
/// # Ok::<(), oob::oauth::ProviderConfigError>(())
/// ```
#[derive(Clone)]
pub struct Provider {
    pub(crate) name: String,
    pub(crate) client: Client,
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<String>,
    /// A plain-`http` revocation endpoint on loopback (development and tests), which the
    /// `oauth2` crate refuses: revoked by a direct RFC 7009 request instead.
    pub(crate) loopback_revocation: Option<oauth2::url::Url>,
    pub(crate) scopes: Vec<String>,
    pub(crate) redirect_path: String,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

fn url<U>(
    which: &'static str,
    s: impl Into<String>,
    f: fn(String) -> Result<U, oauth2::url::ParseError>,
) -> Result<U, ProviderConfigError> {
    f(s.into()).map_err(|source| ProviderConfigError::Url { which, source })
}

fn is_loopback(u: &oauth2::url::Url) -> bool {
    match u.host() {
        Some(oauth2::url::Host::Domain(d)) => d == "localhost",
        Some(oauth2::url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(oauth2::url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl Provider {
    /// A provider named `name` (the vault key its tokens are stored under, `oauth:{name}`),
    /// with this service's `client_id`, the provider's authorization and token endpoints, and
    /// the `redirect_url` registered with it (the callback route this service serves).
    ///
    /// # Errors
    /// A URL does not parse, the redirect URL's path has a segment starting with `:` or
    /// `*` ([`ProviderConfigError::RedirectPath`]), or the name is not 1 to 64 of
    /// `[a-z0-9_.-]`.
    pub fn new(
        name: impl Into<String>,
        client_id: impl Into<String>,
        authorization_url: impl Into<String>,
        token_url: impl Into<String>,
        redirect_url: impl Into<String>,
    ) -> Result<Self, ProviderConfigError> {
        let name = name.into();
        if name.is_empty()
            || name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
        {
            return Err(ProviderConfigError::Name);
        }
        let client_id = client_id.into();
        let redirect = url("redirect_url", redirect_url, RedirectUrl::new)?;
        let redirect_path = redirect.url().path().to_owned();
        if redirect_path
            .split('/')
            .any(|segment| segment.starts_with([':', '*']))
        {
            return Err(ProviderConfigError::RedirectPath);
        }
        let client = BasicClient::new(ClientId::new(client_id.clone()))
            .set_auth_uri(url("authorization_url", authorization_url, AuthUrl::new)?)
            .set_token_uri(url("token_url", token_url, TokenUrl::new)?)
            .set_revocation_url_option(None)
            .set_redirect_uri(redirect);
        Ok(Self {
            name,
            client,
            client_id,
            client_secret: None,
            loopback_revocation: None,
            scopes: Vec::new(),
            redirect_path,
        })
    }

    /// The client secret (confidential clients). PKCE is used either way.
    #[must_use]
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        let secret = secret.into();
        self.client = self
            .client
            .set_client_secret(ClientSecret::new(secret.clone()));
        self.client_secret = Some(secret);
        self
    }

    /// The scopes every consent asks for.
    #[must_use]
    pub fn scopes<S: Into<String>>(mut self, scopes: impl IntoIterator<Item = S>) -> Self {
        self.scopes = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The provider's RFC 7009 revocation endpoint, so [`OAuth::revoke`](super::OAuth::revoke)
    /// revokes the grant at the provider too.
    ///
    /// # Errors
    /// The URL does not parse, or is plain `http` on a host other than loopback.
    pub fn revocation_url(
        mut self,
        revocation: impl Into<String>,
    ) -> Result<Self, ProviderConfigError> {
        let u = url("revocation_url", revocation, RevocationUrl::new)?;
        match u.url().scheme() {
            "https" => self.client = self.client.set_revocation_url_option(Some(u)),
            "http" if is_loopback(u.url()) => self.loopback_revocation = Some(u.url().clone()),
            _ => return Err(ProviderConfigError::Insecure),
        }
        Ok(self)
    }

    /// The provider's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The path of the redirect URL: the route [`OAuth::router`](super::OAuth::router)
    /// serves the provider's callback on.
    #[must_use]
    pub fn redirect_path(&self) -> &str {
        &self.redirect_path
    }

    /// The vault key this provider's tokens are stored under.
    #[must_use]
    pub fn vault_key(&self) -> String {
        format!("oauth:{}", self.name)
    }
}
