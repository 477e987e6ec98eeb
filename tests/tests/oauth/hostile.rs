//! The hostile paths: another user, a signed-out browser, a forged state, a replayed
//! callback, a code the provider rejects.

use std::time::Duration;

use oob::AnyPending;
use oob::vault::Vault;
use oob_tests::oidc::{Decision, location};
use oob_tests::user;
use reqwest::{StatusCode, header};

use super::fixture::{
    at_provider, callback_as, consent_required, fixture, open_as, stored, vault_of,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_user_signed_out_users_forged_and_replayed_callbacks_get_nothing() {
    let Some(f) = fixture(Duration::from_secs(60)).await else {
        return;
    };
    let alice = user("alice");
    let pending = consent_required(f.oauth.access_token(&alice).await);
    let url = pending.callback_url();

    // Bob opening alice's link is refused before anything else: no redirect to the provider.
    let res = open_as(&f, &url, "bob").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().get(header::LOCATION).is_none());
    assert_eq!(res.headers()["x-frame-options"], "DENY");
    // Signed out: asked to sign in, nothing revealed.
    let res = f.app.get(&url).send().await.expect("get");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // Alice goes to the provider; bob's browser brings her callback back (a phished code).
    let res = open_as(&f, &url, "alice").await;
    let callback = at_provider(&f, &location(&res), "alice", Decision::Consent).await;
    assert_eq!(
        callback_as(&f, &callback, Some("bob")).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        callback_as(&f, &callback, None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(matches!(
        f.oauth.manager().get(pending.id()).await,
        Ok(AnyPending::Open(_))
    ));
    assert!(stored(&f, "bob").await.is_none());

    // A forged state: malformed, or an id nobody created.
    let forged = format!("{}?code=x&state=not-an-id", f.redirect);
    assert_eq!(
        callback_as(&f, &forged, Some("alice")).await.status(),
        StatusCode::BAD_REQUEST
    );
    let unknown = format!("{}?code=x&state={}.x", f.redirect, oob::PendingId::random());
    assert_eq!(
        callback_as(&f, &unknown, Some("alice")).await.status(),
        StatusCode::NOT_FOUND
    );

    // Alice's own callback completes it; a replay is answered without a second exchange.
    assert_eq!(
        callback_as(&f, &callback, Some("alice")).await.status(),
        StatusCode::OK
    );
    let version = {
        let t = f.oauth.manager().caller(&alice).expect("caller");
        vault_of(&f)
            .read(&t, &f.oauth.provider().vault_key())
            .await
            .expect("read")
            .expect("stored")
            .version()
    };
    let replay = callback_as(&f, &callback, Some("alice")).await;
    assert_eq!(replay.status(), StatusCode::OK);
    let t = f.oauth.manager().caller(&alice).expect("caller");
    let after = vault_of(&f)
        .read(&t, &f.oauth.provider().vault_key())
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(
        after.version(),
        version,
        "a replayed callback writes nothing"
    );
    // Bob replaying it after completion learns nothing either.
    assert_eq!(
        callback_as(&f, &callback, Some("bob")).await.status(),
        StatusCode::FORBIDDEN
    );

    // A code the provider rejects (reused at a new consent) is a 4xx with a way to retry.
    let again = f.oauth.start(&user("carol")).await.expect("carol");
    let state = reqwest::Url::parse(&f.oauth.authorization_url(&again))
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    let bad = format!("{}?code=bogus-code&state={state}", f.redirect);
    let res = callback_as(&f, &bad, Some("carol")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.expect("page").contains("Start again"));
    assert!(matches!(
        f.oauth.manager().get(again.id()).await,
        Ok(AnyPending::Open(_))
    ));
}
