//! Lifecycle events: every action is logged with its kind and id; namespaces only as a keyed
//! hash; payloads never.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oob::Outcome;
use oob_tests::*;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    /// Captures this thread's events, DEBUG and up, until the guard drops.
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn events_name_action_kind_and_id_never_namespace_or_payload() {
    let capture = Capture::default();
    let _guard = capture.install();

    let m = manager_with(oob::store::MemoryStore::new().with_retention(Duration::from_secs(1)));
    let alice = user("alice@example.com");
    let a = m.create(&alice, spec().alias("gh")).await.unwrap();
    let joined = m.create_or_join(&alice, spec().alias("gh")).await.unwrap();
    assert!(joined.is_joined());
    let a_id = a.id();
    m.complete(a).await.unwrap();
    let b = m.create(&alice, spec()).await.unwrap();
    let b_id = b.id();
    m.cancel(b).await.unwrap();
    let c = m.create(&alice, spec()).await.unwrap();
    m.decline(c).await.unwrap();
    let d = m
        .create(&alice, spec().ttl(Duration::from_secs(1)))
        .await
        .unwrap();
    assert!(matches!(
        m.wait(d.id(), Duration::from_secs(5)).await.unwrap(),
        Outcome::Expired(_)
    ));
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(m.purge().await.unwrap() > 0);
    m.create(&alice, spec()).await.unwrap();
    m.clear(&alice).await.unwrap();

    let out = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    for action in [
        "action=\"create\"",
        "action=\"join\"",
        "action=\"complete\"",
        "action=\"cancel\"",
        "action=\"decline\"",
        "action=\"expire\"",
        "action=\"purge\"",
        "action=\"clear\"",
    ] {
        assert!(out.contains(action), "missing {action} in:\n{out}");
    }
    assert!(out.contains("kind=\"device_code\""), "{out}");
    assert!(out.contains(&a_id.to_string()), "{out}");
    assert!(out.contains(&b_id.to_string()), "{out}");
    assert!(out.contains("oob.wait"), "{out}");
    assert!(out.contains("ns="), "{out}");
    // Never the namespace in clear, never any part of the payload.
    for secret in [
        "alice",
        "example.com",
        "ABCD-1234",
        "Enter the code",
        "ex.com/device",
    ] {
        assert!(
            !out.contains(secret),
            "{secret} leaked into the log:\n{out}"
        );
    }
}

/// The `ns=` pseudonyms in a captured log, in order.
fn pseudonyms(log: &str) -> Vec<String> {
    log.split("ns=")
        .skip(1)
        .map(|rest| rest.chars().take_while(char::is_ascii_hexdigit).collect())
        .collect()
}

/// Creates one pending for `alice` on a manager built with `key` (or none) and returns the
/// pseudonym its `create` event carries.
async fn pseudonym_of_alice(key: Option<&[u8]>) -> String {
    let capture = Capture::default();
    let _guard = capture.install();
    let builder = oob::Manager::builder()
        .store(oob::store::MemoryStore::new())
        .provider(oob::provider::FromVerifiedSubject)
        .callback_base(oob::CallbackBase::parse("https://ex.com").unwrap());
    let m = match key {
        Some(key) => builder.pseudonym_key(key).build(),
        None => builder.build(),
    };
    m.create(&user("alice@example.com"), spec()).await.unwrap();
    let out = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let found = pseudonyms(&out);
    assert_eq!(found.len(), 1, "{out}");
    assert_eq!(found[0].len(), 16, "{out}");
    found[0].clone()
}

#[tokio::test]
async fn replicas_with_one_pseudonym_key_write_one_pseudonym() {
    let key = b"a 32-byte secret from the vault!";
    // Two managers stand for two replicas of one service.
    let first = pseudonym_of_alice(Some(key)).await;
    assert_eq!(first, pseudonym_of_alice(Some(key)).await);
    assert_ne!(
        first,
        pseudonym_of_alice(Some(b"another service's secret key")).await
    );
    // Without a key each manager draws its own.
    assert_ne!(
        pseudonym_of_alice(None).await,
        pseudonym_of_alice(None).await
    );
}
