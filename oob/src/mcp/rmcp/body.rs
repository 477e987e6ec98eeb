//! Reading an HTTP request's body ahead of the service without taking it away: what
//! [`spec_wire`](super::spec_wire) (to keep `tools/call` arguments) and
//! [`bind_sessions`](super::bind_sessions) (to tell an `initialize`) both need. Each layer
//! parses only the members it needs and keeps no parse: a body is at most [`READ_LIMIT`]
//! bytes, but its JSON tree can be many times that (a number array: 32 bytes per 2-byte
//! element), and what a layer leaves in the request's extensions lives as long as the
//! tool call.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, BodyDataStream, Bytes};
use axum::extract::Request;
use futures_core::Stream;

/// The most of a request body read ahead of the service: rmcp's own default request body
/// limit, so every body rmcp would take is read whole, and a longer one is one rmcp
/// refuses unread.
pub(super) const READ_LIMIT: usize = 4 * 1024 * 1024;

/// The request's body when it is at most `limit` bytes (`None` when it is longer or failed
/// mid-read: not known). The request goes on with its body unchanged; a body that arrived
/// in one piece is not copied.
pub(super) async fn body_up_to(request: Request, limit: usize) -> (Request, Option<Bytes>) {
    let (parts, body) = request.into_parts();
    let (body, bytes) = read_up_to(body, limit).await;
    (Request::from_parts(parts, body), bytes)
}

/// Whether `body`, past leading JSON whitespace, starts with `c` (`{`: an object).
pub(super) fn starts_with(body: &[u8], c: u8) -> bool {
    body.iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|b| *b == c)
}

/// Reads `body` up to `limit` bytes. Returns the body again, for the service, unchanged
/// (a longer body goes on streaming after what was read; one that failed fails there
/// again, after the bytes read before), and its bytes when it was read whole within the
/// limit.
async fn read_up_to(body: Body, limit: usize) -> (Body, Option<Bytes>) {
    let mut stream = body.into_data_stream();
    let mut read = Read::default();
    loop {
        match std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
            Some(Ok(piece)) => {
                read.push(piece);
                if read.len() > limit {
                    let replay = Replay {
                        items: VecDeque::from([Ok(read.bytes())]),
                        rest: Some(stream),
                    };
                    return (Body::from_stream(replay), None);
                }
            }
            Some(Err(e)) => {
                let replay = Replay {
                    items: VecDeque::from([Ok(read.bytes()), Err(e)]),
                    rest: None,
                };
                return (Body::from_stream(replay), None);
            }
            None => {
                let bytes = read.bytes();
                return (Body::from(bytes.clone()), Some(bytes));
            }
        }
    }
}

/// What was read of a body: one piece as it came (not copied), or several joined into one
/// buffer (however many pieces a client splits a body into, it costs its bytes, not a
/// handle per piece).
#[derive(Default)]
struct Read {
    first: Option<Bytes>,
    joined: Vec<u8>,
}

impl Read {
    fn push(&mut self, piece: Bytes) {
        match self.first.take() {
            None if self.joined.is_empty() => self.first = Some(piece),
            first => {
                if let Some(first) = first {
                    self.joined.extend_from_slice(&first);
                }
                self.joined.extend_from_slice(&piece);
            }
        }
    }

    fn len(&self) -> usize {
        self.first.as_ref().map_or(self.joined.len(), Bytes::len)
    }

    fn bytes(self) -> Bytes {
        self.first.unwrap_or_else(|| Bytes::from(self.joined))
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

    /// The body goes on unchanged, whole or in pieces; a longer one is not known and goes
    /// on unchanged too.
    #[tokio::test]
    async fn a_body_is_read_and_goes_on_unchanged() {
        let request = Request::post("/mcp")
            .body(Body::from(r#"{"method":"tools/list"}"#))
            .expect("request");
        let (request, bytes) = body_up_to(request, 1024).await;
        assert_eq!(&bytes.expect("read")[..], br#"{"method":"tools/list"}"#);
        let body = axum::body::to_bytes(request.into_body(), 1024)
            .await
            .expect("body");
        assert_eq!(&body[..], br#"{"method":"tools/list"}"#, "unchanged");

        let pieces = ["", "[1", ", ", "2]"].map(|p| Ok::<_, std::io::Error>(Bytes::from(p)));
        let request = Request::post("/mcp")
            .body(Body::from_stream(futures_util_stream(pieces.into())))
            .expect("request");
        let (request, bytes) = body_up_to(request, 1024).await;
        assert_eq!(&bytes.expect("read")[..], b"[1, 2]");
        let body = axum::body::to_bytes(request.into_body(), 1024)
            .await
            .expect("body");
        assert_eq!(&body[..], b"[1, 2]");

        let long = Request::post("/mcp")
            .body(Body::from("[1, 2]"))
            .expect("request");
        let (request, bytes) = body_up_to(long, 3).await;
        assert!(bytes.is_none());
        let body = axum::body::to_bytes(request.into_body(), 1024)
            .await
            .expect("body");
        assert_eq!(&body[..], b"[1, 2]", "unchanged");
        // A body in many pieces: read and passed on whole.
        let many: VecDeque<_> = (0..10_000)
            .map(|i| Ok::<_, std::io::Error>(Bytes::from(if i % 2 == 0 { "[" } else { "]" })))
            .collect();
        let request = Request::post("/mcp")
            .body(Body::from_stream(futures_util_stream(many)))
            .expect("request");
        let (request, bytes) = body_up_to(request, 1024 * 1024).await;
        assert_eq!(bytes.expect("read"), "[]".repeat(5_000));
        let body = axum::body::to_bytes(request.into_body(), 1024 * 1024)
            .await
            .expect("body");
        assert_eq!(body, "[]".repeat(5_000));
        assert!(starts_with(b" \n{}", b'{'));
        assert!(!starts_with(b" [{}]", b'{'));
    }

    /// A stream of `items`.
    fn futures_util_stream(
        items: VecDeque<Result<Bytes, std::io::Error>>,
    ) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
        struct Items(VecDeque<Result<Bytes, std::io::Error>>);
        impl Stream for Items {
            type Item = Result<Bytes, std::io::Error>;
            fn poll_next(
                mut self: Pin<&mut Self>,
                _: &mut Context<'_>,
            ) -> Poll<Option<Self::Item>> {
                Poll::Ready(self.0.pop_front())
            }
        }
        Items(items)
    }
}
