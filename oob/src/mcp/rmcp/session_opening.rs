//! Whether a `POST` without `Mcp-Session-Id` may open an MCP session: an `initialize` is the
//! only request that does (rmcp serves every other request without a session statelessly,
//! or refuses it). The body is read up to [`PEEK_LIMIT`] and handed on unchanged. Only a
//! body read whole that parses as JSON-RPC and names no `initialize` is known not to open
//! one; anything else (a longer body, one that fails mid-read or does not parse) is taken
//! as one that may, so the session table's capacity is checked before rmcp sees it.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::Request;
use futures_core::Stream;
use serde_json::Value;

/// How much of a body is read to find its method: far more than an `initialize` needs, and
/// than the other requests that come without a session. A longer body is passed on as it
/// streams, and is taken as one that may open a session.
pub(super) const PEEK_LIMIT: usize = 64 * 1024;

/// Whether a whole JSON-RPC body (one message or a batch) names no `initialize`.
fn names_no_initialize(body: &[u8]) -> bool {
    let is_initialize = |m: &Value| m.get("method").and_then(Value::as_str) == Some("initialize");
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(batch)) => !batch.iter().any(is_initialize),
        Ok(message @ Value::Object(_)) => !is_initialize(&message),
        _ => false,
    }
}

/// `request`, its body intact, and whether it may open a session (see the module docs). The
/// `Mcp-Method` header is not trusted for this: rmcp checks it only on some protocol
/// versions, so an `initialize` body may come with another method named there.
pub(super) async fn peek(request: Request) -> (Request, bool) {
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
                    return (replay(parts, read, stream), true);
                }
            }
            Some(Err(e)) => {
                read.push_back(Err(e));
                return (replay(parts, read, stream), true);
            }
        }
    }
    let mut whole = Vec::with_capacity(len);
    for chunk in read.into_iter().flatten() {
        whole.extend_from_slice(&chunk);
    }
    let may_open = !names_no_initialize(&whole);
    (Request::from_parts(parts, Body::from(whole)), may_open)
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
