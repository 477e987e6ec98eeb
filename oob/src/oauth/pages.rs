//! The routes a consent's browser steps take: the pending's URL (owner check, then off to the
//! provider) and the provider's callback (owner check, code exchange, completion).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::consent::Consent;
use super::finish::FinishError;
use super::flow::OAuth;
use super::state;
use super::tokens::TokenSet;
use crate::http::RejectionKind;
use crate::id::PendingId;
use crate::namespace::Namespace;
use crate::pending::AnyPending;
use crate::store::Store;
use crate::vault::Vault;

/// A page: status, title, one paragraph and an optional link, with the interaction headers.
fn page(status: StatusCode, title: &str, text: &str, link: Option<(&str, &str)>) -> Response {
    let link = link.map_or(String::new(), |(href, label)| {
        format!("<p><a href=\"{}\">{}</a></p>", escape(href), escape(label))
    });
    let body = format!(
        "<!doctype html><html lang=en><meta charset=utf-8><meta name=viewport content=\"width=device-width\">\
         <title>{t}</title><h1>{t}</h1><p>{p}</p>{link}</html>",
        t = escape(title),
        p = escape(text),
    );
    let mut res = (status, Html(body)).into_response();
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("frame-ancestors 'none'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn connected() -> Response {
    page(
        StatusCode::OK,
        "Connected",
        "Your account is connected. You can close this tab and return to your assistant.",
        None,
    )
}

/// `res` marked with the [`RejectionKind`] it stands for (in the response extensions, as
/// [`InteractionRejection`](crate::http::InteractionRejection) marks its own), so a layer of
/// the service can restyle it (e.g. a sign-in link on `NoIdentity`).
fn tagged(mut res: Response, kind: RejectionKind) -> Response {
    res.extensions_mut().insert(kind);
    res
}

/// The owner check, before anything about the pending is revealed: a signed-out user and
/// another user learn nothing (not even whether the pending is still open).
async fn owned<S, P, V>(
    oauth: &OAuth<S, P, V>,
    id: PendingId,
    user: Option<&Namespace>,
) -> Result<AnyPending<Consent>, Response>
where
    S: Store<Consent>,
    P: Send + Sync + 'static,
    V: Vault<TokenSet> + Clone,
{
    let Some(user) = user else {
        return Err(tagged(
            page(
                StatusCode::UNAUTHORIZED,
                "Sign in first",
                "Sign in to this service in this browser, then open the link from your assistant again.",
                None,
            ),
            RejectionKind::NoIdentity,
        ));
    };
    let found = oauth.manager().get(id).await;
    match found {
        // A consent for another provider (another `OAuth` on the same consent store) is not
        // this router's: unknown here, so its code is never exchanged with this provider.
        Ok(p) if p.namespace() == user && consent_of(&p).provider() != oauth.provider().name() => {
            Err(unknown())
        }
        Ok(p) if p.namespace() == user => Ok(p),
        Ok(_) => Err(tagged(
            page(
                StatusCode::FORBIDDEN,
                "Not your request",
                "This link was created for another account. Ask your assistant for a new link while signed in as yourself.",
                None,
            ),
            RejectionKind::WrongUser,
        )),
        Err(crate::Error::NotFound(_)) => Err(unknown()),
        Err(_) => Err(tagged(
            page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The service could not look this request up. Try again in a moment.",
                None,
            ),
            RejectionKind::Internal,
        )),
    }
}

/// A link whose path or query does not parse (a duplicate `state`, bytes that are not
/// UTF-8): the same headers as every page, and nothing of the request in it.
pub(super) fn malformed() -> Response {
    tagged(
        page(
            StatusCode::BAD_REQUEST,
            "Link not valid",
            "This link is not valid. Ask your assistant for a new one.",
            None,
        ),
        RejectionKind::MalformedId,
    )
}

pub(super) fn unknown() -> Response {
    tagged(
        page(
            StatusCode::NOT_FOUND,
            "Unknown link",
            "This link is not known here. Ask your assistant for a new one.",
            None,
        ),
        RejectionKind::NotFound,
    )
}

/// The consent a pending of any state holds.
fn consent_of(p: &AnyPending<Consent>) -> &Consent {
    match p {
        AnyPending::Open(p) => p.data(),
        AnyPending::Completed(p) => p.data(),
        AnyPending::Cancelled(p) => p.data(),
        AnyPending::Expired(p) => p.data(),
    }
}

fn ended() -> Response {
    page(
        StatusCode::GONE,
        "This request has ended",
        "It was cancelled, declined or expired. Ask your assistant again to get a new link.",
        None,
    )
}

/// The page for a consent found finished: a completed one is connected (a replayed or
/// second load of the callback: the code is not exchanged again), any other has ended.
fn found_ended(found: &AnyPending<Consent>) -> Response {
    match found {
        AnyPending::Completed(_) => connected(),
        _ => ended(),
    }
}

/// The query of the provider's callback.
#[derive(Deserialize)]
pub(super) struct Callback {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

impl<S, P, V> OAuth<S, P, V>
where
    S: Store<Consent>,
    P: Send + Sync + 'static,
    V: Vault<TokenSet> + Clone,
{
    /// The pending's URL: owner check, then off to the provider.
    pub(super) async fn start_page(&self, id: &str, user: Option<&Namespace>) -> Response {
        let Ok(id) = id.parse::<PendingId>() else {
            return page(
                StatusCode::BAD_REQUEST,
                "Malformed link",
                "This link is not valid.",
                None,
            );
        };
        match owned(self, id, user).await {
            Err(res) => res,
            Ok(AnyPending::Open(open)) => {
                let mut res = StatusCode::SEE_OTHER.into_response();
                if let Ok(to) = HeaderValue::from_str(&self.authorization_url(&open)) {
                    res.headers_mut().insert(header::LOCATION, to);
                }
                res.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                res.headers_mut().insert(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                );
                res
            }
            Ok(AnyPending::Completed(_)) => connected(),
            Ok(_) => ended(),
        }
    }

    /// The provider's callback: owner and `state` checks, code exchange, completion.
    pub(super) async fn callback_page(&self, q: Callback, user: Option<&Namespace>) -> Response {
        let Some((id, tag)) = q.state.as_deref().and_then(state::parse) else {
            return page(
                StatusCode::BAD_REQUEST,
                "Malformed callback",
                "The provider's answer does not name a request of this service.",
                None,
            );
        };
        let found = match owned(self, id, user).await {
            Err(res) => return res,
            Ok(found) => found,
        };
        // Only a `state` this service made for this pending (its tag is keyed by the
        // pending's PKCE verifier) is acted on: one built from the pending's id, which the
        // assistant saw, could otherwise decline the consent or bring another account's code.
        if !state::verify(consent_of(&found), id, tag) {
            return page(
                StatusCode::BAD_REQUEST,
                "This answer is not for your request",
                "The provider's answer does not carry this service's mark for your request, so nothing was done with it. Open the link from your assistant again.",
                None,
            );
        }
        if !matches!(found, AnyPending::Open(_)) {
            return found_ended(&found);
        }
        // One callback of a consent at a time (see `exchanges.rs`), its state read again
        // once this one's turn comes: another load of this URL may have exchanged the code
        // and completed the consent while this one waited.
        let turn = self.inner.exchanges.turn(id).await;
        let open = match owned(self, id, user).await {
            Ok(AnyPending::Open(open)) => open,
            Ok(found) => return found_ended(&found),
            Err(res) => return res,
        };
        let retry = open.callback_url();
        match q.error.as_deref() {
            // The user said no (RFC 6749 4.1.2.1): the one error that is a decline.
            Some("access_denied") => {
                return match self.manager().decline(open).await {
                    Ok(_) => page(
                        StatusCode::OK,
                        "Not connected",
                        "You declined at the provider. Nothing was stored. Your assistant has been told.",
                        None,
                    ),
                    Err(_) => ended(),
                };
            }
            // Any other error (the provider unavailable, a scope it refuses, a request it
            // finds invalid) is no answer from the user: the consent stays open.
            Some(_) => {
                return page(
                    StatusCode::BAD_GATEWAY,
                    "The provider could not finish the sign-in",
                    "It answered with an error instead of asking you. Nothing was stored; you can try again.",
                    Some((&retry, "Try again")),
                );
            }
            None => {}
        }
        let Some(code) = q.code else {
            return page(
                StatusCode::BAD_REQUEST,
                "Malformed callback",
                "The provider's answer carries no code.",
                Some((&retry, "Start again")),
            );
        };
        // In a task of its own: should the browser go away (axum then drops this future),
        // the code, which the provider takes once, is still exchanged and its tokens stored
        // before the consent's waiters are woken.
        let this = self.clone();
        let finished = tokio::spawn(async move {
            // The turn ends with the exchange, not with this request.
            let _turn = turn;
            this.finish(open, code).await
        })
        .await
        // A panic's own text (which may quote what it was handling) is not kept.
        .unwrap_or_else(|_| {
            Err(FinishError::Provider(super::flow::provider_error(
                TaskEnded,
            )))
        });
        match finished {
            Ok(_) => connected(),
            // Lost a race (a double submit): say how the pending ended.
            Err(FinishError::Ended) => match self.manager().get(id).await {
                Ok(AnyPending::Completed(_)) => connected(),
                _ => ended(),
            },
            Err(FinishError::Rejected) => page(
                StatusCode::BAD_REQUEST,
                "The provider refused this sign-in",
                "The authorization code was not accepted (it may have expired or been used). Nothing was stored.",
                Some((&retry, "Start again")),
            ),
            Err(FinishError::Provider(e)) => {
                log_failure(&e);
                page(
                    StatusCode::BAD_GATEWAY,
                    "The provider could not be reached",
                    "Nothing was stored. Try again in a moment.",
                    Some((&retry, "Try again")),
                )
            }
            Err(FinishError::NotSaved(e)) => {
                log_failure(&e);
                page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Your account could not be connected",
                    "The provider agreed, but the service could not save the connection. This link cannot be used again: ask your assistant again for a new link.",
                    None,
                )
            }
        }
    }
}

/// A failure of the provider or of the service behind a generic page: logged for the
/// service (feature `tracing`), never shown to the browser.
fn log_failure(e: &super::OAuthError) {
    #[cfg(feature = "tracing")]
    tracing::warn!(target: "oob", error = %e, source = ?std::error::Error::source(e), "oauth callback failed");
    #[cfg(not(feature = "tracing"))]
    let _ = e;
}

/// The task that finished a consent ended without an answer (it panicked); its panic
/// message is not kept.
#[derive(Debug, thiserror::Error)]
#[error("the consent's completion task ended without an answer")]
struct TaskEnded;
