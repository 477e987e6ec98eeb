//! Revision 2026-07-28 (`input_required` and a retry with the user's answer): decline and
//! cancel end the pending; accept waits for the browser step, and asks again once the wait
//! is over; a credential still being written when the retry reads it is read again.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use oob::mcp::rmcp::{CANCELLED, DECLINED};
use rmcp::model::{ElicitationAction, ProtocolVersion};
use serde_json::json;

use crate::mcp_support::client::{asked, complete, connect, list_repos, state_of, text_of};
use crate::mcp_support::{Options, browser_submit, start, start_with_vault};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_2026_decline_and_cancel_end_the_pending() {
    let h = start(Options::default()).await;
    let c = connect(
        &h,
        "alice",
        ProtocolVersion::V_2026_07_28,
        ElicitationAction::Accept,
    )
    .await;
    for (action, ended, said) in [
        ("decline", "declined", DECLINED),
        ("cancel", "cancelled", CANCELLED),
    ] {
        let (url, state) = asked(
            c.client
                .call_tool_once(list_repos(None, None))
                .await
                .unwrap(),
        );
        let answer = json!({"upstream_token": {"action": action}});
        let r = complete(
            c.client
                .call_tool_once(list_repos(Some(state), Some(answer)))
                .await
                .unwrap(),
        );
        assert_eq!(r.is_error, Some(true));
        assert!(text_of(&r).contains(said), "{}", text_of(&r));
        assert_eq!(state_of(&h, &url).await, ended);
        // The URL is over for the browser too.
        assert_eq!(browser_submit(&url, "alice", "gho_late").await, 410);
    }
    assert_eq!(h.runs.load(Ordering::SeqCst), 0);
    c.client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_2026_accept_waits_for_the_browser_step() {
    let h = start(Options {
        accept_wait: Duration::from_secs(10),
        ..Options::default()
    })
    .await;
    let c = connect(
        &h,
        "alice",
        ProtocolVersion::V_2026_07_28,
        ElicitationAction::Accept,
    )
    .await;
    let (url, state) = asked(
        c.client
            .call_tool_once(list_repos(None, None))
            .await
            .unwrap(),
    );
    // The user agreed to open the URL; the browser step finishes a moment later.
    let browser = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        browser_submit(&url, "alice", "gho_alice").await
    });
    let started = Instant::now();
    let answer = json!({"upstream_token": {"action": "accept"}});
    let r = complete(
        c.client
            .call_tool_once(list_repos(Some(state), Some(answer)))
            .await
            .unwrap(),
    );
    assert!(text_of(&r).contains("gho_alice"), "{}", text_of(&r));
    assert!(started.elapsed() >= Duration::from_millis(600));
    assert_eq!(browser.await.unwrap(), 200);
    c.client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_2026_accept_without_the_step_asks_again_after_the_wait() {
    let wait = Duration::from_millis(400);
    let h = start(Options {
        accept_wait: wait,
        ..Options::default()
    })
    .await;
    let c = connect(
        &h,
        "alice",
        ProtocolVersion::V_2026_07_28,
        ElicitationAction::Accept,
    )
    .await;
    let (url, state) = asked(
        c.client
            .call_tool_once(list_repos(None, None))
            .await
            .unwrap(),
    );
    let started = Instant::now();
    let answer = json!({"upstream_token": {"action": "accept"}});
    let (again, _) = asked(
        c.client
            .call_tool_once(list_repos(Some(state), Some(answer)))
            .await
            .unwrap(),
    );
    assert!(started.elapsed() >= wait, "{:?}", started.elapsed());
    assert_eq!(again, url, "the same interaction, asked again");
    assert_eq!(state_of(&h, &url).await, "open");
    c.client.cancel().await.unwrap();
}

/// A vault whose every value is missing from the first two reads after it is written, as
/// a retry on one replica sees a credential another replica's persist step is writing.
#[derive(Clone, Default)]
struct Lagging {
    inner: oob::vault::MemoryVault<String>,
    misses: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl oob::vault::Vault<String> for Lagging {
    async fn write(
        &self,
        token: &dyn oob::Capability,
        key: &str,
        value: String,
        options: oob::vault::WriteOptions,
    ) -> Result<oob::vault::Version, oob::vault::VaultError> {
        self.misses.store(2, Ordering::SeqCst);
        self.inner.write(token, key, value, options).await
    }
    async fn read(
        &self,
        token: &dyn oob::Capability,
        key: &str,
    ) -> Result<Option<oob::vault::Entry<String>>, oob::vault::VaultError> {
        let missed = self
            .misses
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if missed {
            return Ok(None);
        }
        self.inner.read(token, key).await
    }
    async fn delete(
        &self,
        token: &dyn oob::Capability,
        key: &str,
    ) -> Result<bool, oob::vault::VaultError> {
        self.inner.delete(token, key).await
    }
    async fn keys(
        &self,
        token: &dyn oob::Capability,
    ) -> Result<Vec<String>, oob::vault::VaultError> {
        self.inner.keys(token).await
    }
}

/// The browser step completed, but the retry's first reads of the credential miss it (a
/// persist step on another replica still writing): the gate reads it again for a moment and
/// runs the tool, instead of saying the interaction stored nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_2026_a_credential_still_being_written_is_read_again() {
    let h = start_with_vault(Options::default(), Lagging::default()).await;
    let c = connect(
        &h,
        "alice",
        ProtocolVersion::V_2026_07_28,
        ElicitationAction::Accept,
    )
    .await;
    let (url, state) = asked(
        c.client
            .call_tool_once(list_repos(None, None))
            .await
            .unwrap(),
    );
    assert_eq!(browser_submit(&url, "alice", "gho_lagging").await, 200);
    let answer = json!({"upstream_token": {"action": "accept"}});
    let r = complete(
        c.client
            .call_tool_once(list_repos(Some(state), Some(answer)))
            .await
            .unwrap(),
    );
    assert_ne!(r.is_error, Some(true), "{}", text_of(&r));
    assert_eq!(h.runs.load(Ordering::SeqCst), 1);
    c.client.cancel().await.unwrap();
}
