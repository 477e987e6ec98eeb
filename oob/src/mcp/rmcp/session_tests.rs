//! Tests for [`SessionOwners`] and [`bind_sessions`] in front of a stand-in MCP service
//! that opens a session for an `initialize` without one and counts the requests it sees.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;

use super::{SESSION_HEADER, SessionOwners, SessionRefused, bind_sessions};
use crate::namespace::Namespace;
use crate::provider::VerifiedSubject;

pub(super) struct Fixture {
    pub(super) app: Router,
    pub(super) owners: SessionOwners,
    /// Requests that reached the MCP service.
    pub(super) reached: Arc<AtomicUsize>,
}

/// A JSON-RPC `initialize`, the request that opens a session.
pub(super) const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#;

/// The stand-in MCP service, as rmcp behaves: a request naming a session is served (or `404`
/// for one rmcp forgot); an `initialize` without one opens a session (unless its `Mcp-Method`
/// header names another method); any other request
/// without one is served without a session, unless it carries `x-rogue` (a service that
/// opens sessions for other requests too). Every answer reports the body length it read in
/// `x-body-len`.
pub(super) fn fixture(owners: SessionOwners) -> Fixture {
    let reached = Arc::new(AtomicUsize::new(0));
    let opened = Arc::new(AtomicUsize::new(0));
    let counter = reached.clone();
    let service = move |req: Request| {
        let (counter, opened) = (counter.clone(), opened.clone());
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let (parts, body) = req.into_parts();
            let Ok(body) = axum::body::to_bytes(body, usize::MAX).await else {
                return StatusCode::BAD_REQUEST.into_response();
            };
            let len = [("x-body-len", body.len().to_string())];
            if parts.headers.contains_key(SESSION_HEADER) {
                // A session rmcp forgot (expired on its side) is answered 404 by rmcp.
                if parts.headers[SESSION_HEADER] == "gone-in-rmcp" {
                    return (StatusCode::NOT_FOUND, len).into_response();
                }
                return (len, "served").into_response();
            }
            // rmcp refuses an `initialize` whose `Mcp-Method` header names another method.
            let initialize = serde_json::from_slice::<serde_json::Value>(&body)
                .is_ok_and(|v| v["method"] == "initialize")
                && parts
                    .headers
                    .get("mcp-method")
                    .is_none_or(|m| m == "initialize");
            if !initialize && !parts.headers.contains_key("x-rogue") {
                return (len, "served without a session").into_response();
            }
            let n = opened.fetch_add(1, Ordering::SeqCst);
            let session = if parts.headers.contains_key("x-forget") {
                "gone-in-rmcp".to_owned()
            } else {
                format!("s{n}")
            };
            ([(SESSION_HEADER, session)], len, "opened").into_response()
        }
    };
    let app = Router::new()
        .route("/mcp", axum::routing::any(service))
        .layer(axum::middleware::from_fn_with_state(
            owners.clone(),
            bind_sessions,
        ))
        .layer(axum::middleware::from_fn(authenticate));
    Fixture {
        app,
        owners,
        reached,
    }
}

/// `x-user: <name>` becomes the request's verified subject.
pub(super) async fn authenticate(mut req: Request, next: Next) -> Response {
    let user = req
        .headers()
        .get("x-user")
        .and_then(|v| v.to_str().ok())
        .and_then(|u| Namespace::new(u).ok());
    if let Some(ns) = user {
        req.extensions_mut().insert(VerifiedSubject::new(ns));
    }
    next.run(req).await
}

impl Fixture {
    pub(super) async fn send(&self, method: Method, user: &str, session: Option<&str>) -> Response {
        self.send_body(method, user, session, "").await
    }

    pub(super) async fn send_body(
        &self,
        method: Method,
        user: &str,
        session: Option<&str>,
        body: impl Into<Body>,
    ) -> Response {
        let mut req = Request::builder()
            .method(method)
            .uri("/mcp")
            .header("x-user", user);
        if let Some(s) = session {
            req = req.header(SESSION_HEADER, s);
        }
        self.app
            .clone()
            .oneshot(req.body(body.into()).unwrap())
            .await
            .unwrap()
    }

    /// Opens a session as `user` (an `initialize`); its id.
    pub(super) async fn open(&self, user: &str) -> String {
        let r = self.send_body(Method::POST, user, None, INITIALIZE).await;
        assert_eq!(r.status(), StatusCode::OK);
        r.headers()[SESSION_HEADER].to_str().unwrap().to_owned()
    }

    pub(super) async fn status(&self, method: Method, user: &str, session: &str) -> StatusCode {
        self.send(method, user, Some(session)).await.status()
    }

    pub(super) fn reached(&self) -> usize {
        self.reached.load(Ordering::SeqCst)
    }
}

#[tokio::test]
async fn another_subject_or_none_gets_404_and_the_owner_keeps_the_session() {
    let f = fixture(SessionOwners::new());
    let s = f.open("alice").await;
    for user in ["bob", ""] {
        assert_eq!(
            f.status(Method::POST, user, &s).await,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            f.status(Method::DELETE, user, &s).await,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(f.reached(), 1, "only the open reached the service");
    assert_eq!(f.status(Method::POST, "alice", &s).await, StatusCode::OK);
    assert_eq!(f.owners.len(), 1);
}

#[tokio::test]
async fn a_session_without_an_entry_is_refused_before_the_service() {
    let f = fixture(SessionOwners::new());
    assert_eq!(
        f.status(Method::POST, "alice", "never-opened-here").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(f.reached(), 0);
}

#[tokio::test]
async fn closing_or_losing_a_session_removes_its_entry() {
    let f = fixture(SessionOwners::new());
    let s = f.open("alice").await;
    assert_eq!(f.owners.len(), 1);
    assert_eq!(f.status(Method::DELETE, "alice", &s).await, StatusCode::OK);
    assert!(f.owners.is_empty());
    assert_eq!(
        f.status(Method::POST, "alice", &s).await,
        StatusCode::NOT_FOUND
    );

    // rmcp answers 404 for a session it dropped: the entry goes too.
    let r = f
        .app
        .clone()
        .oneshot(
            Request::post("/mcp")
                .header("x-user", "alice")
                .header("x-forget", "1")
                .body(Body::from(INITIALIZE))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.headers()[SESSION_HEADER], "gone-in-rmcp");
    assert_eq!(f.owners.len(), 1);
    assert_eq!(
        f.status(Method::POST, "alice", "gone-in-rmcp").await,
        StatusCode::NOT_FOUND
    );
    assert!(f.owners.is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_idle_entry_expires_and_use_keeps_it_alive() {
    let f = fixture(SessionOwners::new().idle_timeout(Duration::from_secs(60)));
    let s = f.open("alice").await;
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(f.status(Method::POST, "alice", &s).await, StatusCode::OK);
    }
    tokio::time::advance(Duration::from_secs(60)).await;
    let reached = f.reached();
    assert_eq!(
        f.status(Method::POST, "alice", &s).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(f.reached(), reached, "an expired session is not served");
    assert!(f.owners.is_empty());

    // Expired entries are purged when another session opens, not only when named again.
    let a = f.open("alice").await;
    let _b = f.open("bob").await;
    assert_eq!(f.owners.len(), 2);
    tokio::time::advance(Duration::from_secs(61)).await;
    let _c = f.open("carol").await;
    assert_eq!(f.owners.len(), 1);
    assert_eq!(
        f.status(Method::POST, "alice", &a).await,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test(start_paused = true)]
async fn when_full_the_least_recently_used_entry_is_evicted() {
    let f = fixture(SessionOwners::new().capacity(2));
    let a = f.open("alice").await;
    tokio::time::advance(Duration::from_secs(1)).await;
    let b = f.open("bob").await;
    tokio::time::advance(Duration::from_secs(1)).await;
    // Alice uses hers: Bob's is now the least recently used.
    assert_eq!(f.status(Method::POST, "alice", &a).await, StatusCode::OK);
    let c = f.open("carol").await;
    assert_eq!(f.owners.len(), 2);
    assert_eq!(
        f.status(Method::POST, "bob", &b).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(f.status(Method::POST, "alice", &a).await, StatusCode::OK);
    assert_eq!(f.status(Method::POST, "carol", &c).await, StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn one_subject_gives_up_its_own_sessions_not_anothers() {
    let f = fixture(SessionOwners::new().capacity(10).per_owner(2));
    let bob = f.open("bob").await;
    tokio::time::advance(Duration::from_secs(1)).await;
    let mut alice = Vec::new();
    for _ in 0..5 {
        alice.push(f.open("alice").await);
        tokio::time::advance(Duration::from_secs(1)).await;
    }
    // Bob's session is the least recently used of all, yet it stays: Alice's oldest went.
    assert_eq!(f.owners.len(), 3);
    assert_eq!(f.status(Method::POST, "bob", &bob).await, StatusCode::OK);
    assert_eq!(
        f.status(Method::POST, "alice", &alice[2]).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        f.status(Method::POST, "alice", &alice[3]).await,
        StatusCode::OK
    );
    assert_eq!(
        f.status(Method::POST, "alice", &alice[4]).await,
        StatusCode::OK
    );
}

/// Sessions opened without a subject share one bound: a flood of them gives up their own
/// least recently used sessions, not a signed-in user's, however idle hers is. (Before,
/// they were bounded by the capacity alone, and a flood evicted everyone's: found in
/// review, 2026-12-07.)
#[tokio::test(start_paused = true)]
async fn sessions_without_a_subject_share_one_bound_and_evict_only_theirs() {
    let f = fixture(SessionOwners::new().capacity(10).per_owner(2).anonymous(4));
    let alice = f.open("alice").await;
    tokio::time::advance(Duration::from_secs(1)).await;
    let mut anonymous = Vec::new();
    for _ in 0..50 {
        anonymous.push(f.open("").await);
        tokio::time::advance(Duration::from_secs(1)).await;
    }
    assert_eq!(f.owners.len(), 5);
    assert_eq!(
        f.status(Method::POST, "alice", &alice).await,
        StatusCode::OK
    );
    assert_eq!(
        f.status(Method::POST, "", &anonymous[45]).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        f.status(Method::POST, "", &anonymous[49]).await,
        StatusCode::OK
    );
}

/// A full table: an opening whose group (a subject's, or the anonymous sessions') is at its
/// limit takes the room from that group, not from another's least recently used session.
/// Before, it evicted the table's least recently used session first, and then its group
/// gave up one more on insert (found in the re-review, 2026-12-07).
#[tokio::test(start_paused = true)]
async fn a_full_table_takes_the_room_from_the_group_at_its_limit() {
    // The anonymous sessions at their bound.
    let f = fixture(SessionOwners::new().capacity(4).anonymous(2));
    let alice = f.open("alice").await;
    tokio::time::advance(Duration::from_secs(1)).await;
    let bob = f.open("bob").await;
    for _ in 0..5 {
        tokio::time::advance(Duration::from_secs(1)).await;
        f.open("").await;
    }
    assert_eq!(f.owners.len(), 4);
    assert_eq!(
        f.status(Method::POST, "alice", &alice).await,
        StatusCode::OK
    );
    assert_eq!(f.status(Method::POST, "bob", &bob).await, StatusCode::OK);
    // A subject at her own limit.
    let f = fixture(SessionOwners::new().capacity(4).per_owner(2));
    let bob: Vec<_> = [f.open("bob").await, f.open("bob").await].into();
    tokio::time::advance(Duration::from_secs(1)).await;
    let alice = f.open("alice").await;
    f.open("alice").await;
    f.open("alice").await;
    assert_eq!(f.owners.len(), 4);
    assert_eq!(
        f.status(Method::POST, "alice", &alice).await,
        StatusCode::NOT_FOUND
    );
    for b in &bob {
        assert_eq!(f.status(Method::POST, "bob", b).await, StatusCode::OK);
    }
}

#[tokio::test]
async fn when_full_and_refusing_a_new_session_gets_a_typed_503() {
    let f = fixture(SessionOwners::new().capacity(1).refuse_when_full());
    let a = f.open("alice").await;
    let reached = f.reached();
    let refused = f.send_body(Method::POST, "bob", None, INITIALIZE).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().contains_key("retry-after"));
    let body = axum::body::to_bytes(refused.into_body(), 4096)
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body["error"]["message"],
        SessionRefused::Full { capacity: 1 }.to_string()
    );
    assert_eq!(f.reached(), reached, "the refused request did not open one");
    // Alice's session is kept; once she closes it, Bob gets one.
    assert_eq!(f.status(Method::POST, "alice", &a).await, StatusCode::OK);
    assert_eq!(f.status(Method::DELETE, "alice", &a).await, StatusCode::OK);
    let b = f.open("bob").await;
    assert_eq!(f.status(Method::POST, "bob", &b).await, StatusCode::OK);
}

#[tokio::test]
async fn requests_opening_sessions_hold_a_slot_while_in_flight() {
    let owners = SessionOwners::new().capacity(1).refuse_when_full();
    let release = Arc::new(tokio::sync::Notify::new());
    let entered = Arc::new(tokio::sync::Notify::new());
    let (r, e) = (release.clone(), entered.clone());
    let app = Router::new()
        .route(
            "/mcp",
            axum::routing::any(move || {
                let (r, e) = (r.clone(), e.clone());
                async move {
                    e.notify_one();
                    r.notified().await;
                    ([(SESSION_HEADER, "slow")], "opened")
                }
            }),
        )
        .layer(axum::middleware::from_fn_with_state(
            owners.clone(),
            bind_sessions,
        ));
    let open = || Request::post("/mcp").body(Body::from(INITIALIZE)).unwrap();
    let first = tokio::spawn(app.clone().oneshot(open()));
    entered.notified().await;
    // A guard (the handler blocks until released), not a timing assertion.
    let second = tokio::time::timeout(Duration::from_secs(10), app.clone().oneshot(open()))
        .await
        .expect("refused at once, not passed to the blocked service")
        .unwrap();
    assert_eq!(second.status(), StatusCode::SERVICE_UNAVAILABLE);
    release.notify_one();
    assert_eq!(first.await.unwrap().unwrap().status(), StatusCode::OK);
    assert_eq!(owners.len(), 1);
}

#[test]
fn debug_shows_counts_and_settings_only() {
    let owners = SessionOwners::new().capacity(3);
    let shown = format!("{owners:?}");
    assert!(
        shown.contains("sessions: 0") && shown.contains("capacity: 3"),
        "{shown}"
    );
    assert_eq!(SessionOwners::new().capacity(0).table().capacity, 1);
}
