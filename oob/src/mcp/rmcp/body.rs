//! Reading an HTTP request's body ahead of the service without taking it away: what
//! [`spec_wire`](super::spec_wire) (to keep `tools/call` arguments) and
//! [`bind_sessions`](super::bind_sessions) (to tell an `initialize`) both need.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::Request;
use futures_core::Stream;
use serde_json::Value;

/// The most of a request body read ahead of the service: rmcp's own default request body
/// limit, so every body rmcp would take is read whole (once: the parse is kept for the
/// next layer), and a longer one is one rmcp refuses unread.
pub(super) const READ_LIMIT: usize = 4 * 1024 * 1024;

/// A request body another layer read whole and parsed ahead of the service (`None`: not
/// JSON), kept in the request's extensions so the next layer that needs it reads and parses
/// nothing again (`bind_sessions` and `spec_wire` are both in front of every POST).
#[derive(Clone)]
pub(super) struct WholeJson(Option<Arc<Value>>);

/// The request's body as JSON when it is at most `limit` bytes: `None` when it is longer or
/// failed mid-read (so not known), `Some(None)` when it was read whole but is not JSON. The
/// request goes on with its body unchanged, and with the parse kept for the next layer.
pub(super) async fn json_up_to(
    request: Request,
    limit: usize,
) -> (Request, Option<Option<Arc<Value>>>) {
    if let Some(WholeJson(json)) = request.extensions().get::<WholeJson>() {
        let json = json.clone();
        return (request, Some(json));
    }
    let (mut parts, body) = request.into_parts();
    let (body, bytes) = read_up_to(body, limit).await;
    let json = bytes.map(|b| serde_json::from_slice::<Value>(&b).ok().map(Arc::new));
    if let Some(json) = &json {
        parts.extensions.insert(WholeJson(json.clone()));
    }
    (Request::from_parts(parts, body), json)
}

/// Takes the kept parse out of `request` (the last layer that needs it).
pub(super) fn forget_json(request: &mut Request) {
    request.extensions_mut().remove::<WholeJson>();
}

/// Reads `body` up to `limit` bytes. Returns the body again, for the service, unchanged
/// (a longer body goes on streaming after what was read; one that failed fails there
/// again, after the bytes read before), and its bytes when it was read whole within the
/// limit.
async fn read_up_to(body: Body, limit: usize) -> (Body, Option<Bytes>) {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    loop {
        match std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
            Some(Ok(bytes)) => {
                buf.extend_from_slice(&bytes);
                if buf.len() > limit {
                    let replay = Replay {
                        items: VecDeque::from([Ok(Bytes::from(buf))]),
                        rest: Some(stream),
                    };
                    return (Body::from_stream(replay), None);
                }
            }
            Some(Err(e)) => {
                let replay = Replay {
                    items: VecDeque::from([Ok(Bytes::from(buf)), Err(e)]),
                    rest: None,
                };
                return (Body::from_stream(replay), None);
            }
            None => {
                let bytes = Bytes::from(buf);
                return (Body::from(bytes.clone()), Some(bytes));
            }
        }
    }
}

/// A body read in part: what was read, then the rest.
struct Replay {
    items: VecDeque<Result<Bytes, axum::Error>>,
    rest: Option<BodyDataStream>,
}

impl Stream for Replay {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(item) = self.items.pop_front() {
            return Poll::Ready(Some(item));
        }
        match self.rest.as_mut() {
            Some(rest) => Pin::new(rest).poll_next(cx),
            None => Poll::Ready(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The second layer takes the first one's parse (it reads no body: here it was swapped
    /// for another), the body goes on unchanged, and once forgotten it is read again.
    #[tokio::test]
    async fn a_body_is_read_and_parsed_once_for_both_layers() {
        let request = Request::post("/mcp")
            .body(Body::from(r#"{"method":"tools/list"}"#))
            .expect("request");
        let (request, first) = json_up_to(request, 1024).await;
        let first = first.flatten().expect("json");
        let (mut parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, 1024).await.expect("body");
        assert_eq!(&bytes[..], br#"{"method":"tools/list"}"#, "unchanged");
        let (mut request, second) =
            json_up_to(Request::from_parts(parts.clone(), Body::from("[]")), 1024).await;
        assert!(Arc::ptr_eq(&first, &second.flatten().expect("kept")));
        forget_json(&mut request);
        parts.extensions = request.extensions().clone();
        let (_, third) = json_up_to(Request::from_parts(parts, Body::from("[]")), 1024).await;
        assert_eq!(third.flatten().as_deref(), Some(&Value::Array(Vec::new())));
        // Too long: not known.
        let long = Request::post("/mcp")
            .body(Body::from("[1, 2]"))
            .expect("request");
        assert!(json_up_to(long, 3).await.1.is_none());
    }
}
