//! [`spawn_server`]: serving an example's router over HTTP/1.1 with the limits a server that
//! faces browsers needs, which `axum::serve` does not set: a client that sends its request
//! head or body slowly (or never) is cut off, and connections are capped, so that a few
//! thousand half-open connections cannot stop the server accepting (found in review,
//! 2026-12-07: 20,000 of them made `quickstart --serve` stop answering). A production
//! service usually has a reverse proxy doing this in front; copy these limits if not.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::shutdown_signal;

/// How long a client has to send a request's head (line and headers).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client has to send a request's body, once its head is in.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a write to a client may make no progress (a client that sends requests and
/// never reads the answers) before its connection is dropped.
pub const WRITE_STALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest request body read (the examples' forms and MCP requests are far smaller).
pub const MAX_BODY: usize = 1 << 20;
/// The most connections served at once; more wait in the listener's backlog. With
/// [`MAX_BODY`], at most 512 MiB of request bodies are held at once.
pub const MAX_CONNECTIONS: usize = 512;
/// How long a shutdown waits for the requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` in a background task until Ctrl-C or SIGTERM, with the limits
/// above; the handle finishes once the server has shut down (the requests in flight given
/// up to ten seconds).
pub fn spawn_server(listener: tokio::net::TcpListener, app: Router) -> tokio::task::JoinHandle<()> {
    let app = app.layer(axum::middleware::from_fn(body_within_time));
    tokio::spawn(async move {
        let graceful = GracefulShutdown::new();
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
        let shutdown = shutdown_signal();
        tokio::pin!(shutdown);
        loop {
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
                () = &mut shutdown => break,
            };
            let stream = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of file descriptors, say: wait, then go on accepting.
                        eprintln!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(
                    TokioIo::new(StallGuard::new(stream)),
                    TowerToHyperService::new(app.clone()),
                );
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                let _ = connection.await;
                drop(slot);
            });
        }
        tokio::select! {
            () = graceful.shutdown() => {}
            () = tokio::time::sleep(SHUTDOWN_GRACE) => {}
        }
    })
}

/// A connection's socket whose writes fail after [`WRITE_STALL_TIMEOUT`] without progress:
/// hyper reads no more requests while an answer waits to be written, so its head timeout
/// never starts for a client that pipelines requests and never reads.
struct StallGuard<S> {
    io: S,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> StallGuard<S> {
    fn new(io: S) -> Self {
        Self { io, stalled: None }
    }

    /// `Pending` from a write: pending still, or an error once stalled too long.
    fn waited<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(WRITE_STALL_TIMEOUT)));
        if stalled.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            )));
        }
        Poll::Pending
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StallGuard<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallGuard<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_write(cx, buf) {
            Poll::Ready(done) => {
                this.stalled = None;
                Poll::Ready(done)
            }
            Poll::Pending => this.waited(cx),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.io).poll_flush(cx) {
            Poll::Ready(done) => {
                this.stalled = None;
                Poll::Ready(done)
            }
            Poll::Pending => this.waited(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// Reads the request's body within [`BODY_READ_TIMEOUT`] (at most [`MAX_BODY`] bytes)
/// before the handler runs: `408` for a body that does not arrive in time, `413` for one
/// too large.
async fn body_within_time(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    match tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, MAX_BODY)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(_)) => (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response(),
        Err(_) => (StatusCode::REQUEST_TIMEOUT, "request body too slow").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::routing::post;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::{StallGuard, spawn_server};

    /// A write the peer never reads fails after the stall timeout; one the peer reads goes
    /// through (on tokio's paused clock).
    #[tokio::test(start_paused = true)]
    async fn a_write_nobody_reads_fails_after_the_stall_timeout() {
        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut guarded = StallGuard::new(ours);
        guarded.write_all(&[1; 64]).await.expect("fits the buffer");
        let started = tokio::time::Instant::now();
        let stalled = guarded.write_all(&[2; 64]).await;
        assert_eq!(
            stalled.map_err(|e| e.kind()),
            Err(std::io::ErrorKind::TimedOut)
        );
        assert!(started.elapsed() >= super::WRITE_STALL_TIMEOUT);
        let mut got = [0; 64];
        theirs.read_exact(&mut got).await.expect("read");
        guarded
            .write_all(&[3; 64])
            .await
            .expect("read by now: goes through");
    }

    async fn server() -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route("/echo", post(|body: String| async move { body }));
        spawn_server(listener, app);
        addr
    }

    async fn answer(s: &mut TcpStream) -> String {
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    /// With tokio's clock paused, the timeouts pass as soon as everything waits on the
    /// network: a slow client is cut off, and a prompt one is served.
    #[tokio::test(start_paused = true)]
    async fn a_slow_head_or_body_is_cut_off_and_a_prompt_request_served() {
        let addr = server().await;
        // Half a head, never finished: the connection is closed.
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\n")
            .await
            .unwrap();
        let got = answer(&mut slow).await;
        assert!(!got.contains("200 OK"), "{got}");
        // A whole head, then 5 of 100 bytes: 408.
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nhello")
            .await
            .unwrap();
        let got = answer(&mut slow).await;
        assert!(got.starts_with("HTTP/1.1 408"), "{got}");
        // A prompt request.
        let mut prompt = TcpStream::connect(addr).await.unwrap();
        prompt
            .write_all(
                b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
            )
            .await
            .unwrap();
        let got = answer(&mut prompt).await;
        assert!(
            got.starts_with("HTTP/1.1 200") && got.ends_with("hello"),
            "{got}"
        );
    }
}
