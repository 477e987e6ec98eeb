//! `revoke` of a stored grant that cannot be opened deletes it only while it is still that
//! grant. Found in a hostile review (2026-12-07): it deleted whatever was stored by then, so
//! a grant a new consent (another replica) stored between the failed read and the delete
//! was deleted without being revoked at the provider, against the rustdoc ("one stored
//! meanwhile is revoked in turn").

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use oob::Capability;
use oob::oauth::TokenSet;
use oob::vault::{Entry, MemoryVault, Vault, VaultError, Version, WriteOptions};
use oob_tests::user;

mod oauth_support;

/// A vault whose first read finds a grant that does not open here, while a new consent's
/// grant lands (another replica's completion) right after it.
#[derive(Clone)]
struct NewGrantAfterAFailedRead {
    inner: MemoryVault<TokenSet>,
    fired: Arc<AtomicBool>,
}

impl Vault<TokenSet> for NewGrantAfterAFailedRead {
    async fn write(
        &self,
        token: &dyn Capability,
        key: &str,
        value: TokenSet,
        options: WriteOptions,
    ) -> Result<Version, VaultError> {
        self.inner.write(token, key, value, options).await
    }

    async fn read(
        &self,
        token: &dyn Capability,
        key: &str,
    ) -> Result<Option<Entry<TokenSet>>, VaultError> {
        if !self.fired.swap(true, Ordering::SeqCst) {
            let fresh: TokenSet =
                serde_json::from_str(r#"{"access_token":"NEW","refresh_token":"RNEW"}"#)
                    .expect("a token set");
            self.inner.put(token, key, fresh).await?;
            return Err(VaultError::Sealing(Box::new(std::io::Error::other(
                "sealed under a key this ring does not hold",
            ))));
        }
        self.inner.read(token, key).await
    }

    async fn delete(&self, token: &dyn Capability, key: &str) -> Result<bool, VaultError> {
        self.inner.delete(token, key).await
    }

    async fn keys(&self, token: &dyn Capability) -> Result<Vec<String>, VaultError> {
        self.inner.keys(token).await
    }
}

#[tokio::test]
async fn a_grant_stored_after_an_unreadable_one_is_revoked_not_just_deleted() {
    let revoked = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = revoked.clone();
    let router = Router::new().route(
        "/revoke",
        post(move |body: String| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(body);
                StatusCode::OK
            }
        }),
    );
    let (base, _task) = oauth_support::serve(router).await;
    let inner = MemoryVault::<TokenSet>::new();
    let vault = NewGrantAfterAFailedRead {
        inner: inner.clone(),
        fired: Arc::default(),
    };
    let flow = oauth_support::flow_served_at(&base, vault, true);
    let alice = user("alice");

    assert!(flow.revoke(&alice).await.expect("revoke"));
    let sent = revoked.lock().unwrap().clone();
    assert!(
        sent.iter().any(|b| b.contains("token=RNEW")),
        "the grant stored meanwhile is revoked at the provider: {sent:?}"
    );
    let cx = flow.manager().caller(&alice).expect("caller");
    assert_eq!(
        inner
            .get(&cx, &flow.provider().vault_key())
            .await
            .expect("read"),
        None
    );
}

/// Still: a grant that cannot be opened, and nothing else, is deleted (no provider call:
/// nobody here can read its tokens).
#[tokio::test]
async fn an_unreadable_grant_alone_is_deleted() {
    use oob::vault::{EncryptedVault, KeyRing, Sealed, VaultKey};
    let (base, _task) = oauth_support::serve(Router::new()).await;
    let sealed = MemoryVault::<Sealed>::new();
    let gone_key = EncryptedVault::<TokenSet, _>::new(
        sealed.clone(),
        KeyRing::new(1, VaultKey::from_bytes([1; 32])),
    );
    let vault = EncryptedVault::<TokenSet, _>::new(
        sealed.clone(),
        KeyRing::new(2, VaultKey::from_bytes([2; 32])),
    );
    let flow = oauth_support::flow_served_at(&base, vault, false);
    let alice = user("alice");
    let cx = flow.manager().caller(&alice).expect("caller");
    let set: TokenSet =
        serde_json::from_str(r#"{"access_token":"A","refresh_token":"R"}"#).expect("set");
    gone_key
        .put(&cx, &flow.provider().vault_key(), set)
        .await
        .expect("sealed under a key the flow's ring does not hold");

    assert!(flow.revoke(&alice).await.expect("revoke"));
    assert!(
        sealed
            .get(&cx, &flow.provider().vault_key())
            .await
            .expect("read")
            .is_none()
    );
    assert!(!flow.revoke(&alice).await.expect("revoke"), "nothing left");
}

/// A grant whose version does not decode (edited by hand, on Redis): its version cannot be
/// learned, so it is deleted plainly instead of failing the revoke.
#[tokio::test]
async fn a_grant_whose_version_does_not_decode_is_deleted() {
    use oob::vault::RedisVault;
    let Some(server) = oob_tests::redis_server::RedisServer::start() else {
        // No redis-server and not in CI: nothing here can run.
        return;
    };
    let (base, _task) = oauth_support::serve(Router::new()).await;
    let client = ::redis::Client::open(server.url()).expect("client");
    let vault = RedisVault::<TokenSet>::connect(client)
        .await
        .expect("connect")
        .with_prefix("{p}:");
    let flow = oauth_support::flow_served_at(&base, vault.clone(), false);
    let alice = user("alice");
    let cx = flow.manager().caller(&alice).expect("caller");
    let key = flow.provider().vault_key();
    let mut raw = server.raw().await;
    let _: () = ::redis::cmd("HSET")
        .arg(format!("{{p}}:v:5:alice:{key}"))
        .arg(
            &[
                "val",
                r#"{"access_token":"A"}"#,
                "w",
                "1",
                "e",
                "",
                "v",
                "x",
            ][..],
        )
        .query_async(&mut raw)
        .await
        .expect("hset");
    let _: () = ::redis::cmd("ZADD")
        .arg("{p}:vk:5:alice")
        .arg("+inf")
        .arg(&key)
        .query_async(&mut raw)
        .await
        .expect("zadd");
    assert!(matches!(
        vault.get(&cx, &key).await,
        Err(VaultError::Codec(_))
    ));

    assert!(flow.revoke(&alice).await.expect("revoke"));
    assert_eq!(vault.get(&cx, &key).await.expect("read"), None);
}
