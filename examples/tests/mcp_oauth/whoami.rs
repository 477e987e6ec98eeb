//! `whoami` against the real provider, from hosts of both revisions: consent, refresh, a
//! new consent after revocation; a declined consent; clients without URL mode.

use std::time::Duration;

use oob_tests::oidc::{OidcProvider, free_port};
use rmcp::model::{CallToolResponse, ElicitationAction, ProtocolVersion};
use serde_json::json;

use super::host::{
    call_with_consent, connect, connect_with, consent_as, error_text, next_url, refused_to, text,
    whoami,
};
use super::{ACCESS_TTL, serve};

#[tokio::test(flavor = "multi_thread")]
async fn whoami_consents_refreshes_and_asks_again_after_revocation() {
    let port = free_port();
    let redirect = format!("http://127.0.0.1:{port}/oob/oauth/callback");
    let Some(op) = OidcProvider::start(&redirect, ACCESS_TTL) else {
        return;
    };
    let server = serve(port, &op);

    // 2025-11-25: consent through the in-call URL elicitation.
    let (alice, mut urls) = connect(&server.base, "alice", ProtocolVersion::V_2025_11_25).await;
    let (first, out) = call_with_consent(&server, &alice, &mut urls, "alice").await;
    assert!(out.contains("`alice`"), "{out}");

    // The grant is kept: the next call answers without asking.
    let out = text(alice.call_tool_once(whoami(None)).await.expect("whoami"));
    assert!(out.contains("`alice`"), "{out}");

    // After the access token expired, the call still answers, without asking: the token was
    // refreshed (the provider's userinfo refuses an expired token).
    tokio::time::sleep(ACCESS_TTL + Duration::from_secs(1)).await;
    let out = text(alice.call_tool_once(whoami(None)).await.expect("whoami"));
    assert!(out.contains("`alice`"), "{out}");
    assert!(urls.try_recv().is_err(), "no elicitation for a refresh");

    // The user revokes the grant at the provider: once the access token expired, the
    // refresh is rejected and the next call asks again, with a new URL.
    assert!(op.revoke_grants("alice").await >= 1, "alice had a grant");
    tokio::time::sleep(ACCESS_TTL + Duration::from_secs(1)).await;
    let (second, out) = call_with_consent(&server, &alice, &mut urls, "alice").await;
    assert_ne!(first, second, "a new consent");
    assert!(out.contains("`alice`"), "{out}");

    // Revoked right after the consent, without waiting for the expiry: whether the provider
    // refuses the still-live access token (the tool drops the grant) or the refresh, the call
    // asks again at once.
    assert!(op.revoke_grants("alice").await >= 1, "alice had a grant");
    let (third, out) = call_with_consent(&server, &alice, &mut urls, "alice").await;
    assert_ne!(second, third, "a new consent");
    assert!(out.contains("`alice`"), "{out}");
    alice.cancel().await.expect("close");

    // 2026-07-28: input_required, the consent, the retry with the requestState.
    let (bob, _) = connect(&server.base, "bob", ProtocolVersion::V_2026_07_28).await;
    let CallToolResponse::InputRequired(ask) =
        bob.call_tool_once(whoami(None)).await.expect("whoami")
    else {
        panic!("2026-07-28: expected input_required");
    };
    let ask = serde_json::to_value(&ask).expect("json");
    let url = ask["inputRequests"]["oauth_consent"]["params"]["url"]
        .as_str()
        .expect("a url")
        .to_owned();
    let state = ask["requestState"].as_str().expect("a state").to_owned();
    refused_to(&url, "alice").await;
    consent_as(&server, &url, "bob").await;
    let out = text(
        bob.call_tool_once(whoami(Some(state.clone())))
            .await
            .expect("retry"),
    );
    assert!(out.contains("`bob`"), "{out}");
    assert!(
        bob.call_tool_once(whoami(Some(state))).await.is_err(),
        "a requestState is used once"
    );
    bob.cancel().await.expect("close");
}

#[tokio::test(flavor = "multi_thread")]
async fn whoami_declined_and_clients_without_url_mode() {
    let port = free_port();
    let redirect = format!("http://127.0.0.1:{port}/oob/oauth/callback");
    let Some(op) = OidcProvider::start(&redirect, ACCESS_TTL) else {
        return;
    };
    let server = serve(port, &op);
    let url_mode = json!({"url": {}});

    // 2025-11-25, the user declines in the host: the model is told, and is not asked again
    // within the example's decline cooldown.
    let (carol, mut urls) = connect_with(
        &server.base,
        "carol",
        ProtocolVersion::V_2025_11_25,
        url_mode.clone(),
        ElicitationAction::Decline,
    )
    .await;
    let said = error_text(carol.call_tool_once(whoami(None)).await.expect("whoami"));
    assert!(said.contains("declined"), "{said}");
    next_url(&mut urls).await;
    let said = error_text(carol.call_tool_once(whoami(None)).await.expect("whoami"));
    assert!(said.contains("declined"), "{said}");
    assert!(urls.try_recv().is_err(), "not asked again after a decline");
    carol.cancel().await.expect("close");

    // 2026-07-28, declined in the retry's inputResponses.
    let (dave, _) = connect_with(
        &server.base,
        "dave",
        ProtocolVersion::V_2026_07_28,
        url_mode,
        ElicitationAction::Accept,
    )
    .await;
    let CallToolResponse::InputRequired(ask) =
        dave.call_tool_once(whoami(None)).await.expect("whoami")
    else {
        panic!("2026-07-28: expected input_required");
    };
    let state = serde_json::to_value(&ask).expect("json")["requestState"]
        .as_str()
        .expect("a state")
        .to_owned();
    let mut retry = whoami(Some(state));
    retry.input_responses = Some(
        [("oauth_consent".to_owned(), json!({"action": "decline"}))]
            .into_iter()
            .collect(),
    );
    let said = error_text(dave.call_tool_once(retry).await.expect("retry"));
    assert!(said.contains("declined"), "{said}");
    dave.cancel().await.expect("close");

    // Clients that did not declare URL mode never get a URL: a tool error (2025-11-25), the
    // missing-capability error -32021 (2026-07-28).
    let (erin, mut urls) = connect_with(
        &server.base,
        "erin",
        ProtocolVersion::V_2025_11_25,
        json!({"form": {}}),
        ElicitationAction::Accept,
    )
    .await;
    let said = error_text(erin.call_tool_once(whoami(None)).await.expect("whoami"));
    assert!(said.contains("URL-mode elicitation"), "{said}");
    assert!(urls.try_recv().is_err(), "no URL");
    erin.cancel().await.expect("close");
    let (frank, _) = connect_with(
        &server.base,
        "frank",
        ProtocolVersion::V_2026_07_28,
        json!({"form": {}}),
        ElicitationAction::Accept,
    )
    .await;
    let refused = frank
        .call_tool_once(whoami(None))
        .await
        .expect_err("no URL mode");
    assert!(format!("{refused:?}").contains("-32021"), "{refused:?}");
    frank.cancel().await.expect("close");
}
