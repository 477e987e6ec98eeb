//! Reading an HTTP request's body ahead of the service without taking it away: what
//! [`spec_wire`](super::spec_wire) (to keep `tools/call` arguments) and
//! [`bind_sessions`](super::bind_sessions) (to tell an `initialize`) both need.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, BodyDataStream, Bytes};
use futures_core::Stream;

/// Reads `body` up to `limit` bytes. Returns the body again, for the service, unchanged
/// (a longer body goes on streaming after what was read; one that failed fails there
/// again, after the bytes read before), and its bytes when it was read whole within the
/// limit.
pub(super) async fn read_up_to(body: Body, limit: usize) -> (Body, Option<Bytes>) {
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
