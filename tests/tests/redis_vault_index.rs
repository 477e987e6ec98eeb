//! `RedisVault`'s namespace index (`P` `vk:` len`:`n) ends by itself: it gets the key
//! expiry of its longest-lived entry (a slack after it), none while an entry never expires
//! (and, as any sorted set, it is gone once a delete empties it). Before, the index of a
//! namespace nobody wrote again kept its expired members, and its key, for good.

use std::time::{Duration, SystemTime};

use oob::vault::{RedisVault, Vault, WriteOptions};
use oob_tests::redis_server::RedisServer;
use oob_tests::{manager, user};

/// The vault's slack after an expiry before Redis drops a key (`SLACK` in vault.rs).
const SLACK: Duration = Duration::from_secs(60);

async fn pttl(raw: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("PTTL")
        .arg(key)
        .query_async(raw)
        .await
        .expect("PTTL")
}

#[tokio::test]
async fn the_index_lives_as_long_as_its_longest_lived_entry() {
    let Some(server) = RedisServer::start() else {
        // No redis-server and not in CI: nothing here can run.
        return;
    };
    let mut raw = server.raw().await;
    let client = redis::Client::open(server.url()).expect("client");
    let vault: RedisVault<String> = RedisVault::connect(client)
        .await
        .expect("connect")
        .with_prefix("{t}:");
    let m = manager();
    let alice = user("alice");
    let t = m.caller(&alice).expect("caller");
    let ns = t.namespace().as_str();
    let index = format!("{{t}}:vk:{}:{ns}", ns.len());
    let in_ = |d: Duration| WriteOptions::new().expires_at(SystemTime::now() + d);

    // One entry ending in 10 s: the index ends a slack after it.
    vault
        .write(&t, "short", "1".into(), in_(Duration::from_secs(10)))
        .await
        .expect("write");
    let ttl = pttl(&mut raw, &index).await;
    let slack = i64::try_from(SLACK.as_millis()).expect("ms");
    assert!(
        (slack..=slack + 10_000).contains(&ttl),
        "index PTTL {ttl} ms: the slack after the entry's expiry"
    );

    // A longer-lived entry moves it later; a shorter one after that does not move it back.
    vault
        .write(&t, "long", "2".into(), in_(Duration::from_secs(3_600)))
        .await
        .expect("write");
    vault
        .write(&t, "shorter", "3".into(), in_(Duration::from_secs(5)))
        .await
        .expect("write");
    let ttl = pttl(&mut raw, &index).await;
    assert!(
        ttl > 3_000_000 + slack,
        "index PTTL {ttl} ms: the longest-lived entry's"
    );

    // An entry that never expires keeps the index for good; its delete ends that.
    vault
        .write(&t, "forever", "4".into(), WriteOptions::new())
        .await
        .expect("write");
    assert_eq!(
        pttl(&mut raw, &index).await,
        -1,
        "no expiry while one never ends"
    );
    assert!(vault.delete(&t, "forever").await.expect("delete"));
    let ttl = pttl(&mut raw, &index).await;
    assert!(
        ttl > 3_000_000 + slack,
        "index PTTL {ttl} ms once it is deleted"
    );
    // The same when it is ended by a write already expired (the OAuth grant's end).
    let v = vault
        .write(&t, "forever", "4".into(), WriteOptions::new())
        .await
        .expect("write");
    assert_eq!(pttl(&mut raw, &index).await, -1);
    vault
        .write(
            &t,
            "forever",
            "4".into(),
            WriteOptions::new()
                .if_version(v)
                .expires_at(SystemTime::now()),
        )
        .await
        .expect("ended");
    let ttl = pttl(&mut raw, &index).await;
    assert!(
        ttl > 3_000_000 + slack,
        "index PTTL {ttl} ms once it is ended"
    );
    vault
        .write(&t, "short", "5".into(), in_(Duration::from_secs(10)))
        .await
        .expect("write");
    let ttl = pttl(&mut raw, &index).await;
    assert!(
        ttl > 3_000_000 + slack,
        "index PTTL {ttl} ms once it is gone"
    );

    // Emptied by deletes, the index is gone (Redis drops an empty sorted set).
    for key in ["short", "long", "shorter"] {
        assert!(vault.delete(&t, key).await.expect("delete"), "{key}");
    }
    assert_eq!(
        pttl(&mut raw, &index).await,
        -2,
        "an empty index is deleted"
    );
    assert!(vault.keys(&t).await.expect("keys").is_empty());
}

/// A prefix must end with `:`, as the store's: every operation of a vault on another fails
/// with the configuration error, before it touches Redis.
#[tokio::test]
async fn a_prefix_without_a_colon_is_refused() {
    let Some(server) = RedisServer::start() else {
        // No redis-server and not in CI: nothing here can run.
        return;
    };
    let client = redis::Client::open(server.url()).expect("client");
    let vault: RedisVault<String> = RedisVault::connect(client)
        .await
        .expect("connect")
        .with_prefix("oob");
    let m = manager();
    let alice = user("alice");
    let t = m.caller(&alice).expect("caller");
    let refused = vault.put(&t, "k", "v".into()).await.expect_err("refused");
    assert!(
        format!("{refused:?}").contains("the prefix must end with `:`"),
        "{refused:?}"
    );
    let mut raw = server.raw().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut raw)
        .await
        .expect("KEYS");
    assert!(keys.is_empty(), "{keys:?}");
}
