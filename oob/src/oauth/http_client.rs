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
    /// The response's body is longer than [`MAX_RESPONSE_BODY`]: not read further.
    #[error("the provider's response is over {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
}

/// The most of a provider's answer that is read (1 MiB): a token answer is a few kilobytes,
/// and a provider (or whatever answers in its place) streaming more would otherwise be held
/// in memory whole, at every callback and refresh.
pub const MAX_RESPONSE_BODY: usize = 1 << 20;

/// `response`'s body, up to `limit` bytes; [`HttpError::TooLarge`] past it.
pub(crate) async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, HttpError> {
    let too_large = HttpError::TooLarge { limit };
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
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
    let body = read_capped(response, MAX_RESPONSE_BODY).await?;
    let mut out = http::Response::builder().status(status).body(body)?;
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
