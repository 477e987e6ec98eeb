//! The self-test: the whole flow over real HTTP, a browser made of reqwest.

use oob::Namespace;
use oob::PendingId;
use oob::provider::VerifiedSubject;
use oob_examples::{BoxError, client, ensure, ensure_interaction_headers, sign_in};

use crate::provider::{ACCESS_TTL, AuthServer, USER};
use crate::{App, Called, tool_call};

fn query(url: &str, name: &str) -> Result<String, BoxError> {
    reqwest::Url::parse(url)?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| format!("no {name} in {url}").into())
}

/// The browser's part up to the redirect back: the pending's URL (off to the provider with
/// PKCE and a `state` of the pending's id and its tag), the consent page, the decision; the
/// callback URL.
async fn browse_to_callback(
    c: &reqwest::Client,
    cookie: &str,
    url: &str,
    decision: &str,
) -> Result<String, BoxError> {
    let res = c.get(url).header("cookie", cookie).send().await?;
    ensure(
        res.status() == 303,
        format!("start redirects: {}", res.status()),
    )?;
    let to_as = res.headers()["location"].to_str()?.to_owned();
    ensure(
        query(&to_as, "code_challenge_method")? == "S256",
        "PKCE S256",
    )?;
    let state = query(&to_as, "state")?;
    let id = url.rsplit('/').next().unwrap_or_default();
    ensure(
        state.strip_prefix(id).is_some_and(|tag| tag.len() > 40),
        "the state is the pending's id and a tag",
    )?;
    let res = c.get(&to_as).send().await?;
    ensure(res.status() == 200, "consent page")?;
    let html = res.text().await?;
    let request = oob_examples::between(&html, "name=request value=\"", "\"")
        .ok_or("no authorization request")?
        .to_owned();
    let as_base = to_as.split("/authorize").next().unwrap_or_default();
    let res = c
        .post(format!("{as_base}/authorize"))
        .form(&[("decision", decision), ("request", &request)])
        .send()
        .await?;
    ensure(res.status() == 303, "consent redirects back")?;
    Ok(res.headers()["location"].to_str()?.to_owned())
}

fn asked(
    called: Called,
) -> Result<(String, tokio::task::JoinHandle<Result<String, BoxError>>), BoxError> {
    match called {
        Called::Asked(url, call) => Ok((url, call)),
        Called::Ran(_) => Err("expected a consent to be asked for".into()),
    }
}

/// Drives every path; `Err` names the first check that failed.
pub(crate) async fn run(app: &App, fake: &AuthServer) -> Result<(), BoxError> {
    let c = client()?;
    let alice = VerifiedSubject::new(Namespace::new("alice")?);
    let alice_cookie = sign_in(&c, &app.base, "alice").await?;
    let mallory_cookie = sign_in(&c, &app.base, "mallory").await?;

    let (url, call) = asked(tool_call(app, &alice).await?)?;
    println!("open {url}");
    // Nobody else is sent to the provider with alice's `state`.
    for cookie in ["", mallory_cookie.as_str()] {
        let res = c.get(&url).header("cookie", cookie).send().await?;
        ensure(res.status() == 403, "not the owner: refused")?;
        ensure(res.headers().get("location").is_none(), "no redirect")?;
    }
    // A bad code: 400 with a link to start again; the pending stays open.
    let back = browse_to_callback(&c, &alice_cookie, &url, "approve").await?;
    let state = query(&back, "state")?;
    let bad_code = reqwest::Url::parse_with_params(
        &app.redirect_uri(),
        &[("code", "not-a-code"), ("state", &state)],
    )?;
    let res = c
        .get(bad_code.as_str())
        .header("cookie", &alice_cookie)
        .send()
        .await?;
    ensure(res.status() == 400, format!("bad code: {}", res.status()))?;
    ensure(
        res.text().await?.contains("Start again"),
        "a link to start again",
    )?;
    // Alice's code in mallory's browser: refused, nothing exchanged, alice's pending intact.
    let res = c
        .get(&back)
        .header("cookie", &mallory_cookie)
        .send()
        .await?;
    ensure(
        res.status() == 403,
        "the owner's callback in another session",
    )?;
    let back = browse_to_callback(&c, &alice_cookie, &url, "approve").await?;
    ensure(
        back.starts_with(&app.redirect_uri()),
        "back to our callback",
    )?;

    // A state naming no pending of ours, the pending's bare id (which the assistant saw:
    // no decline or code of another account can be brought in with it), the id with another
    // tag, a malformed one, none.
    let code = query(&back, "code")?;
    let unknown = format!("{}.x", PendingId::random());
    let id = url.rsplit('/').next().unwrap_or_default();
    let other_tag = format!("{id}.{}", "A".repeat(43));
    for (bad, status) in [
        (unknown.as_str(), 404),
        (id, 400),
        (other_tag.as_str(), 400),
        ("garbage", 400),
        ("", 400),
    ] {
        let res = c
            .get(format!("{}?code={code}&state={bad}", app.redirect_uri()))
            .header("cookie", &alice_cookie)
            .send()
            .await?;
        ensure(
            res.status() == status,
            format!("mismatched state {bad:?}: {}", res.status()),
        )?;
    }
    let res = c
        .get(format!("{}?code={code}", app.redirect_uri()))
        .send()
        .await?;
    ensure(res.status() == 400, "missing state")?;

    let res = c.get(&back).header("cookie", &alice_cookie).send().await?;
    ensure(res.status() == 200, format!("callback: {}", res.status()))?;
    ensure_interaction_headers(&res)?;
    ensure(
        call.await?? == USER,
        "the tool call used the token upstream",
    )?;
    // A replay is not exchanged again: the owner sees "connected", anyone else is refused.
    let res = c.get(&back).header("cookie", &alice_cookie).send().await?;
    ensure(res.status() == 200, format!("replayed: {}", res.status()))?;
    ensure(
        res.text().await?.contains("Connected"),
        "the owner's replay: connected",
    )?;
    let res = c
        .get(&back)
        .header("cookie", &mallory_cookie)
        .send()
        .await?;
    ensure(res.status() == 403, "another user's replay: refused")?;
    println!(
        "selftest: owner only, PKCE, bad code 400 with a retry, unknown state 404, untagged state 400, replay not exchanged"
    );

    // The access token expires: the next call refreshes it, transparently.
    tokio::time::sleep(ACCESS_TTL + std::time::Duration::from_secs(1)).await;
    let Called::Ran(user) = tool_call(app, &alice).await? else {
        return Err("a refresh asked for a consent".into());
    };
    ensure(user == USER && fake.refreshed() == 1, "refreshed once")?;
    println!("selftest: the expired token was refreshed");

    // The user revokes the app at the provider: once the token expired, the refresh is
    // refused and the call asks again.
    fake.revoke_user();
    tokio::time::sleep(ACCESS_TTL + std::time::Duration::from_secs(1)).await;
    let (url, call) = asked(tool_call(app, &alice).await?)?;
    let back = browse_to_callback(&c, &alice_cookie, &url, "approve").await?;
    let res = c.get(&back).header("cookie", &alice_cookie).send().await?;
    ensure(res.status() == 200, "connected again")?;
    ensure(call.await?? == USER, "the call ran after the new consent")?;
    println!("selftest: revoked at the provider -> asked again -> connected");

    // The service revokes the grant (RFC 7009 at the provider, and the vault).
    ensure(app.oauth.revoke(&alice).await?, "there was a grant")?;
    ensure(fake.live_grants() == 0, "revoked at the provider")?;
    let (url, call) = asked(tool_call(app, &alice).await?)?;
    // Declined at the provider: the tool call sees it.
    let back = browse_to_callback(&c, &alice_cookie, &url, "deny").await?;
    let res = c.get(&back).header("cookie", &alice_cookie).send().await?;
    ensure(res.status() == 200, "denied callback")?;
    ensure(call.await?? == "declined", "the tool call saw the decline")?;
    println!("selftest: revoked by the service -> asked again; declined at the provider");
    Ok(())
}
