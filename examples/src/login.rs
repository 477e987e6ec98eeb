//! The demo's web sign-in on `tower-sessions`, and the "please sign in" page with a way
//! back to the interaction.

use axum::Router;
use axum::extract::{FromRequest as _, Query, Request};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use oob::Namespace;
use oob::http::{RejectionKind, SessionUser, check_same_origin};
use tower_sessions::cookie::SameSite;
use tower_sessions::{MemoryStore as SessionStore, Session, SessionManagerLayer};

use crate::{escape, page};

/// The demo's web sign-in, on `tower-sessions`: `GET /login?next=/path` shows a form,
/// `POST /login` records the user in the session with [`SessionUser::sign_in`] and goes on
/// to `next`, `POST /logout` ends the session. A stand-in for the service's real login:
/// anyone may sign in as anyone here. The interaction routes check the signed-in user
/// against the pending's owner (`Interaction<T, SessionUser>`).
pub fn with_sign_in(interaction_routes: Router) -> Router {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .merge(interaction_routes.layer(middleware::from_fn(sign_in_hint)))
        .layer(
            // A demo's store: tower-sessions' memory store never evicts a session (each
            // sign-in keeps one, half a kilobyte, for two weeks). A service uses a store
            // that deletes expired sessions (e.g. tower-sessions-sqlx-store's
            // `continuously_delete_expired`).
            SessionManagerLayer::new(SessionStore::default())
                // Plain HTTP on loopback; Lax so the link opened from the assistant (a
                // top-level navigation from another site) still carries the session.
                .with_secure(false)
                .with_same_site(SameSite::Lax),
        )
}

#[derive(serde::Deserialize)]
struct LoginQuery {
    #[serde(default)]
    next: String,
}

/// Only local paths: no open redirect. A path of this site (`/`, not `//`), of printable
/// ASCII other than `\`: browsers drop tabs and newlines from a URL, so `/\t/evil.example`
/// would lead to `//evil.example`, another site (and a newline cannot go in a header).
fn local_path(next: &str) -> &str {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && next.bytes().all(|b| b.is_ascii_graphic() && b != b'\\');
    if local { next } else { "/login" }
}

async fn login_form(Query(q): Query<LoginQuery>) -> Html<String> {
    page(
        "Sign in",
        &format!(
            "<p>Demo sign-in: a real service has its own login here.</p>\
             <form method=post action=/login><input type=hidden name=next value=\"{next}\">\
             <label for=user>User</label><input id=user name=user value=alice required>\
             <p><button>Sign in</button></p></form>",
            next = escape(local_path(&q.next)),
        ),
    )
}

#[derive(serde::Deserialize)]
struct LoginForm {
    user: String,
    #[serde(default)]
    next: String,
}

async fn login(session: Session, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    // A cross-site login would sign the victim in as the attacker.
    if let Err(r) = check_same_origin(&parts) {
        return r.into_response();
    }
    let Ok(axum::Form(form)) =
        axum::Form::<LoginForm>::from_request(Request::from_parts(parts, body), &()).await
    else {
        return (
            StatusCode::BAD_REQUEST,
            page("Sign in", "<p>Bad request.</p>"),
        )
            .into_response();
    };
    let Ok(user) = form.user.trim().parse::<Namespace>() else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            page(
                "Sign in",
                "<p class=error>Enter a user name.</p><p><a href=/login>Try again</a></p>",
            ),
        )
            .into_response();
    };
    if SessionUser::sign_in(&session, &user).await.is_err() {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            page("Sign in", "<p>Could not sign in. Try again.</p>"),
        )
            .into_response();
    }
    Redirect::to(local_path(&form.next)).into_response()
}

async fn logout(session: Session) -> Response {
    let _ = SessionUser::sign_out(&session).await;
    Redirect::to("/login").into_response()
}

/// Turns the library's fixed "please sign in" refusal into a page with a sign-in link that
/// comes back to the interaction.
/// The page to come back to after signing in: the request's path, decoded (the route that
/// answered matched the decoded path), and only if it is a plain local path; a path with
/// anything else gets no way back rather than an echo of what was sent.
fn way_back(path: &str) -> Option<String> {
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    // The sign-in form's own rule for `next` (a local path), and: no `..`, short, plain
    // characters, so nothing of what was sent can come back but a real route's path.
    let plain = local_path(&decoded) == decoded
        && !decoded.contains("..")
        && decoded.len() <= 256
        && decoded
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'));
    plain.then(|| decoded.into_owned())
}

async fn sign_in_hint(req: Request, next: Next) -> Response {
    let back = way_back(req.uri().path());
    let res = next.run(req).await;
    if res.extensions().get::<RejectionKind>() != Some(&RejectionKind::NoIdentity) {
        return res;
    }
    let mut hint = (
        StatusCode::FORBIDDEN,
        page(
            RejectionKind::NoIdentity.message(),
            &format!(
                "<p>{}</p><p><a id=sign-in href=\"/login{}\">Sign in</a></p>",
                escape(RejectionKind::NoIdentity.next_step()),
                back.map(|b| format!("?next={}", escape(&b)))
                    .unwrap_or_default(),
            ),
        ),
    )
        .into_response();
    for (name, value) in res.headers() {
        if name != header::CONTENT_LENGTH && name != header::CONTENT_TYPE {
            hint.headers_mut().insert(name.clone(), value.clone());
        }
    }
    hint
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sign_in_goes_back_to_a_local_path_only() {
        for local in ["/", "/oob/device/ab-12", "/a?b=c&d=%2F", "/zz<b>\""] {
            assert_eq!(local_path(local), local);
        }
        for hostile in [
            "",
            "x",
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n/evil.example",
            "/ /evil.example",
            "/caf\u{e9}",
            "https://evil.example",
        ] {
            assert_eq!(local_path(hostile), "/login", "{hostile:?}");
        }
    }

    #[test]
    fn the_way_back_is_a_plain_decoded_path_or_none() {
        assert_eq!(
            way_back("/oob/api-key/ab-12").as_deref(),
            Some("/oob/api-key/ab-12")
        );
        assert_eq!(
            way_back("/oob/api-key/%61%62").as_deref(),
            Some("/oob/api-key/ab")
        );
        for hostile in [
            "//evil.example/x",
            "/a/../b",
            "/a%2F..%2Fb/..",
            "/a%3Cb",
            "/a%00",
            "/a\\b",
        ] {
            assert_eq!(way_back(hostile), None, "{hostile}");
        }
        assert_eq!(way_back(&format!("/{}", "a".repeat(300))), None);
    }
}
