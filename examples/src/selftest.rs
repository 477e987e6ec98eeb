//! The self-tests' browser stand-in: an HTTP client, the demo sign-in, and checks on what
//! the example answers.

use axum::http::header;

use crate::{BoxError, ensure};

/// An HTTP client that does not follow redirects (the self-tests follow them by hand).
pub fn client() -> Result<reqwest::Client, BoxError> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}

/// Signs `who` in on the example at `base` (the self-tests' browser stand-in) and returns
/// the `Cookie` header value to send.
pub async fn sign_in(c: &reqwest::Client, base: &str, who: &str) -> Result<String, BoxError> {
    let res = c
        .post(format!("{base}/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("user={who}&next=/login"))
        .send()
        .await?;
    ensure(res.status() == 303, format!("sign-in: {}", res.status()))?;
    let cookie = res
        .headers()
        .get(header::SET_COOKIE)
        .ok_or("no session cookie")?
        .to_str()?;
    Ok(cookie.split(';').next().unwrap_or_default().to_owned())
}

/// The text between the first `start` and the next `end` after it.
#[must_use]
pub fn between<'a>(haystack: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = haystack.find(start)? + start.len();
    let len = haystack[from..].find(end)?;
    Some(&haystack[from..from + len])
}

/// Checks the interaction headers on a response.
pub fn ensure_interaction_headers(res: &reqwest::Response) -> Result<(), BoxError> {
    let h = res.headers();
    for (name, value) in [
        ("cache-control", "no-store"),
        ("referrer-policy", "no-referrer"),
        ("x-content-type-options", "nosniff"),
        ("content-security-policy", "frame-ancestors 'none'"),
        ("x-frame-options", "DENY"),
    ] {
        ensure(
            h.get(name).is_some_and(|v| v == value),
            format!("missing `{name}: {value}` on {}", res.url().path()),
        )?;
    }
    Ok(())
}
