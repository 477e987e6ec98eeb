//! The demo authentication (see the module docs of `main.rs`): `Authorization: Bearer
//! <user>` or the browser's `session=<user>` cookie means "signed in as `<user>`". A real
//! service verifies a token and puts the verified subject in the request extensions the
//! same way.

use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use oob::Namespace;
use oob::provider::VerifiedSubject;

/// Demo authentication (see the module docs).
pub(crate) async fn authenticate(mut req: Request, next: Next) -> Response {
    if let Some(ns) = user_of(req.headers()).and_then(|u| Namespace::new(u).ok()) {
        req.extensions_mut().insert(VerifiedSubject::new(ns));
    }
    next.run(req).await
}

fn user_of(headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // The `session` cookie among the browser's cookies (`a=1; session=alice; b=2`).
    let cookie = || {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|pair| pair.trim().strip_prefix("session="))
    };
    bearer.or_else(cookie).map(str::to_owned)
}

/// The MCP endpoint serves signed-in callers only: `401` otherwise, before a session is
/// opened (so an anonymous flood opens none).
pub(crate) async fn signed_in_only(req: Request, next: Next) -> Response {
    if req.extensions().get::<VerifiedSubject>().is_none() {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "sign in: Authorization: Bearer <user>",
        )
            .into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{HeaderValue, Request, StatusCode, header};
    use tower::ServiceExt;

    use super::{authenticate, signed_in_only, user_of};

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let user = |cookies: &[&str]| {
            let mut h = axum::http::HeaderMap::new();
            for c in cookies {
                h.append(header::COOKIE, HeaderValue::from_str(c).unwrap());
            }
            user_of(&h)
        };
        assert_eq!(user(&["session=alice"]).as_deref(), Some("alice"));
        assert_eq!(user(&["session=alice; id=x"]).as_deref(), Some("alice"));
        assert_eq!(user(&["id=x; session=alice"]).as_deref(), Some("alice"));
        assert_eq!(user(&["id=x", "session=alice"]).as_deref(), Some("alice"));
        assert_eq!(user(&["id=x; other_session=bob"]), None);
    }

    #[tokio::test]
    async fn the_mcp_endpoint_answers_401_without_a_signed_in_caller() {
        let app = Router::new()
            .route("/mcp", axum::routing::post(|| async { "served" }))
            .layer(axum::middleware::from_fn(signed_in_only))
            .layer(axum::middleware::from_fn(authenticate));
        let send = |auth: Option<&str>| {
            let mut req = Request::post("/mcp");
            if let Some(a) = auth {
                req = req.header(header::AUTHORIZATION, a);
            }
            app.clone().oneshot(req.body(Body::empty()).unwrap())
        };
        let anonymous = send(None).await.unwrap();
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(anonymous.headers()[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(
            send(Some("Bearer alice")).await.unwrap().status(),
            StatusCode::OK
        );
    }
}
