//! Tests for which requests may open a session: only an `initialize` takes a slot or evicts
//! an entry. Every other request without a session (all revision 2026-07-28 traffic) is
//! served beside a full table, holds no slot however long it runs, and reaches the service
//! with its body intact.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_core::Stream;
use tokio::sync::{Semaphore, mpsc};
use tower::ServiceExt;

use super::super::tests::{Fixture, INITIALIZE, authenticate, fixture};
use super::super::{SESSION_HEADER, SessionOwners, bind_sessions};
use super::PEEK_LIMIT;

const GUARD: Duration = Duration::from_secs(10);

const LIST_2026: &str = r#"{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#;

/// Requests without a session that are not an `initialize`: method, `Mcp-Method` header,
/// body.
const SESSIONLESS: [(&str, Option<&str>, &str); 5] = [
    ("POST", None, LIST_2026),
    ("POST", Some("tools/list"), LIST_2026),
    (
        "POST",
        None,
        r#"{"jsonrpc":"2.0","id":3,"method":"server/discover"}"#,
    ),
    ("GET", None, ""),
    ("DELETE", None, ""),
];

/// Requests that might open a session and so are counted like an `initialize` before rmcp
/// sees them: the header is not trusted (rmcp checks it only on some protocol versions), a
/// batch naming one, and a body that does not parse.
const MAY_OPEN: [(Option<&str>, &str); 4] = [
    (Some("tools/list"), INITIALIZE),
    (None, r#"[{"jsonrpc":"2.0","id":4,"method":"initialize"}]"#),
    (None, "not json"),
    (None, ""),
];

fn request(method: &str, user: &str, named: Option<&str>, body: impl Into<Body>) -> Request {
    let mut req = Request::builder()
        .method(method)
        .uri("/mcp")
        .header("x-user", user);
    if let Some(m) = named {
        req = req.header("mcp-method", m);
    }
    req.body(body.into()).unwrap()
}

async fn call(app: &Router, req: Request) -> Response {
    app.clone().oneshot(req).await.unwrap()
}

fn full(capacity: usize, refuse: bool) -> Fixture {
    let owners = SessionOwners::new().capacity(capacity);
    fixture(if refuse {
        owners.refuse_when_full()
    } else {
        owners
    })
}

/// With `refuse_when_full`, a full table refuses every request that might open a session,
/// before rmcp could open one it would then keep.
#[tokio::test]
async fn a_request_that_may_open_a_session_is_refused_when_full() {
    let f = full(2, true);
    let a = f.open("alice").await;
    let b = f.open("bob").await;
    for (named, body) in MAY_OPEN {
        let r = call(&f.app, request("POST", "carol", named, body)).await;
        assert_eq!(
            r.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{named:?} {body}"
        );
        assert_eq!(f.owners.len(), 2, "{named:?} {body}");
    }
    assert_eq!(f.status(Method::POST, "alice", &a).await, StatusCode::OK);
    assert_eq!(f.status(Method::POST, "bob", &b).await, StatusCode::OK);
}

#[tokio::test]
async fn requests_other_than_initialize_neither_take_a_slot_nor_evict() {
    for refuse in [false, true] {
        let f = full(2, refuse);
        let a = f.open("alice").await;
        let b = f.open("bob").await;
        // A 2026 `tools/call` with large arguments is told apart too (it was not, when
        // only the first 64 KiB were read).
        let large = format!(
            r#"{{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{{"name":"t","arguments":{{"doc":"{}"}},"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}}}}"#,
            "x".repeat(70 * 1024)
        );
        let sessionless = SESSIONLESS
            .into_iter()
            .chain([("POST", None, large.as_str())]);
        for (method, named, body) in sessionless {
            let r = call(&f.app, request(method, "carol", named, body.to_owned())).await;
            assert_eq!(
                r.status(),
                StatusCode::OK,
                "{method} {named:?} {}",
                body.len()
            );
            assert!(!r.headers().contains_key(SESSION_HEADER));
            assert_eq!(
                f.owners.len(),
                2,
                "{method} {named:?} {} evicted one",
                body.len()
            );
        }
        assert_eq!(f.status(Method::POST, "alice", &a).await, StatusCode::OK);
        assert_eq!(f.status(Method::POST, "bob", &b).await, StatusCode::OK);
        // An `initialize` still makes room (Alice's is the least recently used), or is
        // refused.
        let r = call(&f.app, request("POST", "carol", None, INITIALIZE)).await;
        if refuse {
            assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(f.status(Method::POST, "alice", &a).await, StatusCode::OK);
        } else {
            assert_eq!(r.status(), StatusCode::OK);
            let c = r.headers()[SESSION_HEADER].to_str().unwrap().to_owned();
            assert_eq!(f.status(Method::POST, "carol", &c).await, StatusCode::OK);
            assert_eq!(
                f.status(Method::POST, "alice", &a).await,
                StatusCode::NOT_FOUND
            );
        }
        assert_eq!(f.status(Method::POST, "bob", &b).await, StatusCode::OK);
        assert_eq!(f.owners.len(), 2);
        assert_eq!(f.owners.table().opening, 0);
    }
}

#[tokio::test]
async fn requests_other_than_initialize_hold_no_slot_while_in_flight() {
    for refuse in [false, true] {
        let owners = SessionOwners::new().capacity(3);
        let owners = if refuse {
            owners.refuse_when_full()
        } else {
            owners
        };
        // An `initialize` opens a session at once; anything else waits to be released.
        let (entered_tx, mut entered) = mpsc::unbounded_channel();
        let release = Arc::new(Semaphore::new(0));
        let gate = release.clone();
        let opened = Arc::new(AtomicUsize::new(0));
        let service = move |req: Request| {
            let (entered, gate, opened) = (entered_tx.clone(), gate.clone(), opened.clone());
            async move {
                let body = axum::body::to_bytes(req.into_body(), usize::MAX)
                    .await
                    .unwrap();
                if body == INITIALIZE.as_bytes() {
                    let n = opened.fetch_add(1, Ordering::SeqCst);
                    return ([(SESSION_HEADER, format!("s{n}"))], "opened").into_response();
                }
                let _ = entered.send(());
                gate.acquire().await.unwrap().forget();
                "served after the wait".into_response()
            }
        };
        let app = Router::new()
            .route("/mcp", axum::routing::any(service))
            .layer(axum::middleware::from_fn_with_state(
                owners.clone(),
                bind_sessions,
            ))
            .layer(axum::middleware::from_fn(authenticate));
        for user in ["alice", "bob"] {
            let r = call(&app, request("POST", user, None, INITIALIZE)).await;
            assert_eq!(r.status(), StatusCode::OK);
        }
        let waiting: Vec<_> = (0..3)
            .map(|_| {
                let app = app.clone();
                tokio::spawn(
                    async move { call(&app, request("POST", "carol", None, LIST_2026)).await },
                )
            })
            .collect();
        for _ in 0..3 {
            // A guard: each request signals once it reached the service.
            tokio::time::timeout(GUARD, entered.recv())
                .await
                .expect("the request reached the service")
                .unwrap();
        }
        assert_eq!(owners.len(), 2, "a request in flight evicted a session");
        assert_eq!(owners.table().opening, 0);
        // The third slot is free for an `initialize`.
        let r = call(&app, request("POST", "dave", None, INITIALIZE)).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(owners.len(), 3);
        release.add_permits(3);
        for w in waiting {
            let r = tokio::time::timeout(GUARD, w).await.unwrap().unwrap();
            assert_eq!(r.status(), StatusCode::OK);
        }
        assert_eq!(owners.len(), 3);
    }
}

#[tokio::test]
async fn a_session_opened_without_an_initialize_is_kept_within_the_capacity() {
    for refuse in [false, true] {
        let f = full(2, refuse);
        let a = f.open("alice").await;
        let b = f.open("bob").await;
        let mut rogue = request("POST", "carol", None, "");
        rogue
            .headers_mut()
            .insert("x-rogue", axum::http::HeaderValue::from_static("1"));
        let r = call(&f.app, rogue).await;
        assert_eq!(f.owners.len(), 2);
        assert_eq!(f.status(Method::POST, "bob", &b).await, StatusCode::OK);
        if refuse {
            assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(!r.headers().contains_key(SESSION_HEADER));
            assert_eq!(f.status(Method::POST, "alice", &a).await, StatusCode::OK);
        } else {
            let c = r.headers()[SESSION_HEADER].to_str().unwrap().to_owned();
            assert_eq!(f.status(Method::POST, "carol", &c).await, StatusCode::OK);
            assert_eq!(
                f.status(Method::POST, "alice", &a).await,
                StatusCode::NOT_FOUND
            );
        }
        assert_eq!(f.owners.table().opening, 0);
    }
}

/// A body sent in chunks, then perhaps an error.
struct Chunks(VecDeque<Result<Bytes, std::io::Error>>);

impl Stream for Chunks {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.0.pop_front())
    }
}

fn chunked(body: &[u8], chunk: usize) -> Body {
    let chunks = body
        .chunks(chunk)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    Body::from_stream(Chunks(chunks))
}

fn body_len(r: &Response) -> usize {
    r.headers()["x-body-len"].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn bodies_reach_the_service_intact() {
    let f = fixture(SessionOwners::new().capacity(10));
    // Short, and longer than what is read to find the method, in chunks of every size.
    let long = format!(
        r#"{{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{{"pad":"{}"}}}}"#,
        "x".repeat(PEEK_LIMIT + 1000)
    );
    for body in [LIST_2026.to_owned(), long] {
        for chunk in [1, 7, 4096, 65_536, PEEK_LIMIT, body.len()] {
            if chunk < 4096 && body.len() > PEEK_LIMIT {
                continue;
            }
            let r = call(
                &f.app,
                request("POST", "carol", None, chunked(body.as_bytes(), chunk)),
            )
            .await;
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(body_len(&r), body.len(), "chunks of {chunk}");
        }
    }
    assert!(f.owners.is_empty());

    // An `initialize` too long to read whole opens a session all the same, recorded.
    let padded = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"pad":"{}"}}}}"#,
        "x".repeat(PEEK_LIMIT + 1000)
    );
    let r = call(
        &f.app,
        request("POST", "carol", None, chunked(padded.as_bytes(), 65_536)),
    )
    .await;
    assert_eq!(body_len(&r), padded.len());
    let s = r.headers()[SESSION_HEADER].to_str().unwrap().to_owned();
    assert_eq!(f.status(Method::POST, "carol", &s).await, StatusCode::OK);
    assert_eq!(f.owners.len(), 1);

    // A body that fails while it is read: the service sees the failure, nothing opens.
    let failing = VecDeque::from([
        Ok(Bytes::from_static(b"{\"jsonrpc\":")),
        Err(std::io::Error::other("connection reset")),
    ]);
    let r = call(
        &f.app,
        request("POST", "carol", None, Body::from_stream(Chunks(failing))),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(f.owners.len(), 1);
    assert_eq!(f.owners.table().opening, 0);
}

/// What the peek reads of a body: only a body that decodes as JSON-RPC naming no
/// `initialize` is known not to open a session; an escaped `initialize`, a `method` given
/// twice or not a string, a batch element that is no message, or anything that is not JSON
/// may open one.
#[test]
fn only_a_body_naming_no_initialize_is_known_not_to_open() {
    use super::names_no_initialize;

    for body in [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
        r#"[{"method":"tools/list"},{"method":"ping"}]"#,
        r#" {"params":{"method":"initialize"},"method":"tools/call"}"#,
    ] {
        assert!(names_no_initialize(body.as_bytes()), "{body}");
    }
    for body in [
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize"}"#,
        r#"{"method":"\u0069nitialize"}"#,
        r#"{"method":"tools/list","method":"initialize"}"#,
        r#"{"method":5}"#,
        r#"[{"method":"ping"},{"method":"initialize"}]"#,
        r#"[{"method":"ping"},"initialize"]"#,
        r#"{"method":"ping"} trailing"#,
        "5",
        "",
        "not json",
    ] {
        assert!(!names_no_initialize(body.as_bytes()), "{body}");
    }
}
