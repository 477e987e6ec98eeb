//! [`interaction_headers`]: the response headers every interaction page carries.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderMap, HeaderValue, Request, Response, header};
use tower::{Layer, Service};

/// The content security policy every interaction page carries.
const FRAME_ANCESTORS: &str = "frame-ancestors 'none'";

/// Sets the interaction headers on `headers`: `Cache-Control: no-store` (the page may show a
/// secret form or a code: no cache keeps it), `Referrer-Policy: no-referrer` (the URL holds
/// the pending id, a bearer capability: it must not leak to the pages it links to),
/// `X-Content-Type-Options: nosniff` and `X-Frame-Options: DENY`, each replacing any value a
/// handler set; and a `Content-Security-Policy: frame-ancestors 'none'` (no other site may
/// frame a consent page and trick a click on it) added beside any policy the handler set,
/// which stays: a browser enforces every policy it gets, so the handler's (a `script-src`,
/// say) keeps its effect and ours can only make the page stricter.
pub fn set_interaction_headers(headers: &mut HeaderMap) {
    let ours = HeaderValue::from_static(FRAME_ANCESTORS);
    if !headers
        .get_all(header::CONTENT_SECURITY_POLICY)
        .iter()
        .any(|v| v == ours)
    {
        headers.append(header::CONTENT_SECURITY_POLICY, ours);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

/// A layer that puts the interaction headers ([`set_interaction_headers`]) on every response
/// of the service it wraps. Put it on the router of your interaction routes, so success
/// pages, your own error pages and axum's own answers (405, 404) all carry them:
///
/// ```
/// use axum::{Router, routing::get};
/// let interaction_routes: Router = Router::new()
///     .route("/oob/key/{id}", get(|| async { "form" }))
///     .layer(oob::http::interaction_headers());
/// ```
///
/// [`InteractionRejection`](super::InteractionRejection)s set them on their own, with or
/// without this layer.
#[must_use]
pub fn interaction_headers() -> InteractionHeadersLayer {
    InteractionHeadersLayer { _priv: () }
}

/// The layer [`interaction_headers`] returns.
#[derive(Debug, Clone, Copy)]
pub struct InteractionHeadersLayer {
    _priv: (),
}

impl<S> Layer<S> for InteractionHeadersLayer {
    type Service = InteractionHeaders<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InteractionHeaders { inner }
    }
}

/// The service [`InteractionHeadersLayer`] wraps around another.
#[derive(Debug, Clone)]
pub struct InteractionHeaders<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for InteractionHeaders<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<ResBody>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let fut = self.inner.call(req);
        Box::pin(async move {
            let mut res = fut.await?;
            set_interaction_headers(res.headers_mut());
            Ok(res)
        })
    }
}
