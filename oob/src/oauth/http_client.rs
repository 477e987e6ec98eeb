//! The HTTP client the `oauth2` crate's requests go through: the service's `reqwest` client.

use std::future::Future;

/// A token-endpoint request that could not be made or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The request failed (connection, timeout, TLS).
    #[error("request to the provider failed")]
    Request(#[from] reqwest::Error),
    /// The response could not be rebuilt.
    #[error("the provider's response could not be read")]
    Response(#[from] http::Error),
}

/// The service's client as an `oauth2` HTTP client (one boxed future per token request).
pub(crate) struct Http<'a>(pub(crate) &'a reqwest::Client);

impl<'c> oauth2::AsyncHttpClient<'c> for Http<'_> {
    type Error = HttpError;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send + 'c>,
    >;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(send(self.0, request))
    }
}

/// Sends one `oauth2` request with `client` (which should not follow redirects: the
/// `oauth2` crate's advice against SSRF through the token endpoint).
async fn send(
    client: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, HttpError> {
    let (parts, body) = request.into_parts();
    let response = client
        .request(parts.method, parts.uri.to_string())
        .headers(parts.headers)
        .body(body)
        .send()
        .await?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await?;
    let mut out = http::Response::builder()
        .status(status)
        .body(body.to_vec())?;
    *out.headers_mut() = headers;
    Ok(out)
}

/// A client that does not follow redirects, with a 30-second timeout.
pub(crate) fn default_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
}
