//! A token endpoint's answer that does not parse keeps the tokens it holds out of errors
//! and logs.

use axum::Router;
use oob::oauth::OAuthError;
use oob::vault::MemoryVault;
use oob_tests::user;
use reqwest::header;

use super::oauth_support::FakeProvider;

/// A token endpoint whose answer does not parse (here `expires_in` is a string) must not
/// put the body, which holds fresh tokens, into the error's `Debug` or the service's log.
#[tokio::test(flavor = "current_thread")]
async fn an_unparsable_token_answer_keeps_its_tokens_out_of_errors_and_logs() {
    use axum::routing::post;
    use std::sync::{Arc, Mutex};

    // A fake token endpoint: a good answer to the code (a token expired at once: a refresh
    // of one still valid that fails serves it), an unparsable one to the refresh.
    let token = Router::new().route(
        "/token",
        post(|body: String| async move {
            let json = if body.contains("grant_type=authorization_code") {
                r#"{"access_token":"A1","token_type":"bearer","expires_in":0,"refresh_token":"R1"}"#
            } else {
                r#"{"access_token":"LEAKED-ACCESS","token_type":"bearer","expires_in":"3600","refresh_token":"LEAKED-REFRESH"}"#
            };
            ([(header::CONTENT_TYPE, "application/json")], json)
        }),
    );
    let mut op = FakeProvider::start(token).await;
    let oauth = op.flow(MemoryVault::new());
    op.serve_callback(&oauth);

    // Everything the service logs, captured.
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Log {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    op.consent(&oauth, "alice").await;
    let alice = user("alice");
    // The access token has expired: the refresh meets the unparsable answer.
    let err = oauth
        .access_token(&alice)
        .await
        .expect_err("unparsable refresh");
    let shown = format!("{err:?} {err}");
    assert!(matches!(err, OAuthError::Provider(_)), "{shown}");
    // As text, or as the bytes of a kept body (`[76, 69, 65, 75, 69, 68, ...]`).
    let leaked = |s: &str| s.contains("LEAKED") || s.contains("76, 69, 65, 75, 69, 68");
    assert!(!leaked(&shown), "{shown}");
    let logged =
        String::from_utf8_lossy(&log.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    assert!(!leaked(&logged), "{logged}");
}
