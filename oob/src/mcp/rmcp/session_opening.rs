//! Whether a `POST` without `Mcp-Session-Id` is an `initialize`, the only request that
//! opens an MCP session (rmcp serves every other request without a session statelessly, or
//! refuses it). The body is read up to [`PEEK_LIMIT`] and handed on unchanged.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::Request;
use futures_core::Stream;

/// How much of a body is read to find its method: far more than an `initialize` needs. A
/// longer body is passed on as it streams, and is not taken for an `initialize` (a session it
/// opened anyway is still recorded within the capacity, see `Table::admit`).
pub(super) const PEEK_LIMIT: usize = 64 * 1024;

/// The `Mcp-Method` header (SEP-2243): rmcp refuses an `initialize` whose header names
/// another method.
const METHOD_HEADER: &str = "mcp-method";

/// The only field read from the body.
#[derive(serde::Deserialize)]
struct Method<'a> {
    #[serde(borrow)]
    method: Option<Cow<'a, str>>,
}

/// `request`, its body intact, and whether it is a JSON-RPC `initialize`.
pub(super) async fn peek(request: Request) -> (Request, bool) {
    let mut named = request.headers().get_all(METHOD_HEADER).iter().peekable();
    if named.peek().is_some() && !named.any(|v| v == "initialize") {
        return (request, false);
    }
    let (parts, body) = request.into_parts();
    let mut stream = body.into_data_stream();
    let mut read = VecDeque::new();
    let mut len = 0usize;
    loop {
        match std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
            None => break,
            Some(Ok(chunk)) => {
                len = len.saturating_add(chunk.len());
                read.push_back(Ok(chunk));
                if len > PEEK_LIMIT {
                    return (replay(parts, read, stream), false);
                }
            }
            Some(Err(e)) => {
                read.push_back(Err(e));
                return (replay(parts, read, stream), false);
            }
        }
    }
    let mut whole = Vec::with_capacity(len);
    for chunk in read.into_iter().flatten() {
        whole.extend_from_slice(&chunk);
    }
    let initialize = serde_json::from_slice::<Method<'_>>(&whole)
        .is_ok_and(|m| m.method.as_deref() == Some("initialize"));
    (Request::from_parts(parts, Body::from(whole)), initialize)
}

/// The request with the chunks already read, then the rest of the body as it streams.
fn replay(
    parts: axum::http::request::Parts,
    read: VecDeque<Result<Bytes, axum::Error>>,
    rest: BodyDataStream,
) -> Request {
    let body = Body::from_stream(Replay {
        read,
        rest: Some(rest),
    });
    Request::from_parts(parts, body)
}

struct Replay {
    read: VecDeque<Result<Bytes, axum::Error>>,
    /// `None` after an error or the end.
    rest: Option<BodyDataStream>,
}

impl Stream for Replay {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(item) = self.read.pop_front() {
            if item.is_err() {
                self.rest = None;
            }
            return Poll::Ready(Some(item));
        }
        let Some(rest) = self.rest.as_mut() else {
            return Poll::Ready(None);
        };
        let next = Pin::new(rest).poll_next(cx);
        if matches!(next, Poll::Ready(None | Some(Err(_)))) {
            self.rest = None;
        }
        next
    }
}

#[cfg(test)]
#[path = "session_opening_tests.rs"]
mod tests;
