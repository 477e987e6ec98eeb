//! Forged OAuth `state` and replayed callbacks against the `oauth_redirect` example. The
//! example's provider issues single-use codes, so "nothing was exchanged" is checked at the
//! provider: an attacker's code sent to the callback must still be redeemable afterwards.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::tally::Tally;
use crate::wire::Example;

const FORGED: &str = "oauth: forged state";
const REPLAYED: &str = "oauth: replayed callback";

/// The example's registration at its demo provider (`oauth_redirect/provider.rs`): the test
/// plays the provider's other client to redeem codes itself.
const CLIENT_ID: &str = "oob-demo";
const CLIENT_SECRET: &str = "demo-secret";

fn query(url: &str, name: &str) -> String {
    reqwest::Url::parse(url)
        .expect("a URL")
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no {name} in {url}"))
}

/// The provider's consent for an authorization request at `authorize_url`: approve, and the
/// URL it redirects the browser to (the example's callback with `code` and `state`).
async fn approve(c: &reqwest::Client, authorize_url: &str) -> String {
    let res = c.get(authorize_url).send().await.expect("consent page");
    assert_eq!(res.status(), 200, "the provider's consent page");
    let html = res.text().await.expect("consent page");
    let request = oob_examples::between(&html, "name=request value=\"", "\"")
        .expect("an authorization request")
        .to_owned();
    let as_base = authorize_url.split("/authorize").next().expect("a base");
    let res = c
        .post(format!("{as_base}/authorize"))
        .form(&[("decision", "approve"), ("request", &request)])
        .send()
        .await
        .expect("approve");
    assert_eq!(res.status(), 303, "the provider redirects back");
    res.headers()["location"]
        .to_str()
        .expect("a location")
        .to_owned()
}

/// An attacker's own authorization at the provider, with `state` of their choosing: the
/// callback URL carrying a valid code, and the PKCE verifier that redeems it.
async fn attacker_code(
    c: &reqwest::Client,
    as_base: &str,
    callback: &str,
    state: &str,
) -> (String, String) {
    let verifier = format!("zz-attacker-verifier-{}", oob::PendingId::random());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let url = reqwest::Url::parse_with_params(
        &format!("{as_base}/authorize"),
        &[
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", callback),
            ("state", state),
            ("scope", "repo:read"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    )
    .expect("an authorize URL");
    (approve(c, url.as_str()).await, verifier)
}

/// Whether the provider still takes `code` (nobody exchanged it before).
async fn still_redeemable(
    c: &reqwest::Client,
    as_base: &str,
    callback: &str,
    code: &str,
    verifier: &str,
) -> bool {
    let res = c
        .post(format!("{as_base}/token"))
        .header(
            "authorization",
            format!(
                "Basic {}",
                STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
            ),
        )
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
            ("redirect_uri", callback),
        ])
        .send()
        .await
        .expect("the token endpoint");
    res.status() == 200
}

async fn get(c: &reqwest::Client, url: &str, cookie: &str) -> (u16, String) {
    let mut req = c.get(url);
    if !cookie.is_empty() {
        req = req.header("cookie", cookie);
    }
    let res = req.send().await.expect("GET");
    let status = res.status().as_u16();
    (status, res.text().await.expect("a body"))
}

/// Forged states before and after a real flow, and replays of the real callback.
pub(crate) async fn run(ex: &Example, tally: &mut Tally) {
    let c = oob_examples::client().expect("an HTTP client");
    let consent_url = ex.banner_url();
    let as_line = ex.line_starting("(sign in as alice");
    let as_base = as_line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the provider's URL")
        .trim_end_matches([';', ',', ')'])
        .to_owned();
    let callback = format!("{}/oauth/callback", ex.base);
    let alice = oob_examples::sign_in(&c, &ex.base, "alice")
        .await
        .expect("sign in");
    let mallory = oob_examples::sign_in(&c, &ex.base, "mallory")
        .await
        .expect("sign in");
    // Alice's pending id: what the assistant (and so the attacker) saw, in the consent link.
    let real_state = consent_url.rsplit('/').next().expect("an id").to_owned();

    // Forged: the attacker's valid code with a state of the attacker's choosing, in the
    // victim's browser (login CSRF; alice's pending id without its tag included), and
    // alice's id in other browsers.
    let unknown = oob::PendingId::random().to_string();
    let forged_states = [
        (
            unknown.as_str(),
            alice.as_str(),
            "unknown id, alice's browser",
        ),
        (
            "zz-forged-state-value",
            alice.as_str(),
            "garbage, alice's browser",
        ),
        (
            real_state.as_str(),
            alice.as_str(),
            "alice's pending id (no tag), alice's browser",
        ),
        (
            real_state.as_str(),
            mallory.as_str(),
            "alice's pending id, mallory's browser",
        ),
        (real_state.as_str(), "", "alice's pending id, signed out"),
    ];
    for (state, cookie, what) in forged_states {
        let (back, verifier) = attacker_code(&c, &as_base, &callback, state).await;
        let code = query(&back, "code");
        let (status, body) = get(&c, &back, cookie).await;
        tally.http(
            FORGED,
            what,
            status,
            &body,
            &[code.as_bytes(), b"zz-forged-state-value"],
        );
        let exchanged = !still_redeemable(&c, &as_base, &callback, &code, &verifier).await;
        tally.forgery(
            FORGED,
            &format!("{what}: {status}"),
            exchanged || status < 400,
        );
    }

    // The real flow, once, as the example's own self-test does it.
    let res = c
        .get(&consent_url)
        .header("cookie", &alice)
        .send()
        .await
        .expect("start");
    assert_eq!(res.status(), 303, "alice is sent to the provider");
    let to_as = res.headers()["location"]
        .to_str()
        .expect("a location")
        .to_owned();
    let back = approve(&c, &to_as).await;
    let (status, body) = get(&c, &back, &alice).await;
    assert!(
        status == 200 && body.contains("Connected"),
        "the real callback: {status} {body}"
    );
    let done = ex.line_starting("tool call finished");
    assert!(
        done.contains("upstream-user-42"),
        "the tool call used the token: {done}"
    );

    // Replays of the very same callback URL: the owner is told "connected" (nothing is
    // exchanged again), anyone else is refused.
    let code = query(&back, "code");
    for (cookie, who) in [
        (alice.as_str(), "owner"),
        (mallory.as_str(), "another user"),
        ("", "signed out"),
    ] {
        let (status, body) = get(&c, &back, cookie).await;
        tally.http(REPLAYED, who, status, &body, &[code.as_bytes()]);
        let accepted = if who == "owner" {
            !(status == 200 && body.contains("Connected"))
        } else {
            status < 400
        };
        tally.forgery(REPLAYED, &format!("replay by {who}: {status}"), accepted);
    }
    // The real state again with a fresh attacker code: not exchanged, the stored grant stays.
    for (cookie, who) in [
        (alice.as_str(), "owner"),
        (mallory.as_str(), "another user"),
    ] {
        let (back, verifier) = attacker_code(&c, &as_base, &callback, &real_state).await;
        let code = query(&back, "code");
        let (status, body) = get(&c, &back, cookie).await;
        tally.http(REPLAYED, who, status, &body, &[code.as_bytes()]);
        let exchanged = !still_redeemable(&c, &as_base, &callback, &code, &verifier).await;
        tally.forgery(
            REPLAYED,
            &format!("used state, new code, {who}: {status}"),
            exchanged,
        );
    }
    // Forged states after the flow, too.
    let (back, verifier) = attacker_code(&c, &as_base, &callback, &unknown).await;
    let code = query(&back, "code");
    let (status, body) = get(&c, &back, &alice).await;
    tally.http(
        FORGED,
        "unknown id after the flow",
        status,
        &body,
        &[code.as_bytes()],
    );
    let exchanged = !still_redeemable(&c, &as_base, &callback, &code, &verifier).await;
    tally.forgery(
        FORGED,
        &format!("unknown id after the flow: {status}"),
        exchanged || status < 400,
    );
}
