//! A failure (here the vault's) is logged on the server, and the client gets a bare internal
//! error; a caller over its create rate is told so.

use std::sync::{Arc, Mutex};

use oob::vault::{Vault, VaultError};
use rmcp::model::{ElicitationAction, ProtocolVersion};

use crate::mcp_support::client::{connect, list_repos};
use crate::mcp_support::{Options, start, start_with_vault};

/// A vault whose every read fails with a message that must stay on the server.
#[derive(Clone)]
struct BrokenVault;

impl Vault<String> for BrokenVault {
    async fn write(
        &self,
        _token: &dyn oob::Capability,
        _key: &str,
        _value: String,
        _options: oob::vault::WriteOptions,
    ) -> Result<oob::vault::Version, VaultError> {
        Err(VaultError::Backend("disk on fire at /var/secret".into()))
    }
    async fn read(
        &self,
        _token: &dyn oob::Capability,
        _key: &str,
    ) -> Result<Option<oob::vault::Entry<String>>, VaultError> {
        Err(VaultError::Backend("disk on fire at /var/secret".into()))
    }
    async fn delete(&self, _token: &dyn oob::Capability, _key: &str) -> Result<bool, VaultError> {
        Err(VaultError::Backend("disk on fire at /var/secret".into()))
    }
    async fn keys(&self, _token: &dyn oob::Capability) -> Result<Vec<String>, VaultError> {
        Err(VaultError::Backend("disk on fire at /var/secret".into()))
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

// One thread: the subscriber set for this test is the server's too.
#[tokio::test(flavor = "current_thread")]
async fn failures_are_logged_on_the_server_not_sent() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::ERROR)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let h = start_with_vault(Options::default(), BrokenVault).await;
    let c = connect(
        &h,
        "alice",
        ProtocolVersion::V_2026_07_28,
        ElicitationAction::Accept,
    )
    .await;
    let rmcp::ServiceError::McpError(e) = c
        .client
        .call_tool_once(list_repos(None, None))
        .await
        .unwrap_err()
    else {
        panic!("expected a JSON-RPC error")
    };
    assert_eq!(e.code.0, -32603);
    assert!(!e.message.contains("fire") && e.data.is_none(), "{e:?}");
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("disk on fire"), "not logged: {log:?}");
    c.client.cancel().await.unwrap();
}

/// A caller over its create rate (`max_creates_per_namespace`) gets a JSON-RPC invalid
/// request saying so, as at capacity: not an internal error, and no URL. A retry of the same
/// call joins the open pending, and a join counts.
#[tokio::test]
async fn a_caller_over_its_create_rate_is_told_so() {
    let h = start(Options {
        creates_per_minute: std::num::NonZeroU32::new(1),
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
    c.client
        .call_tool_once(list_repos(None, None))
        .await
        .expect("the first call asks for the credential");
    let rmcp::ServiceError::McpError(e) = c
        .client
        .call_tool_once(list_repos(None, None))
        .await
        .unwrap_err()
    else {
        panic!("expected a JSON-RPC error")
    };
    assert_eq!(e.code.0, -32600, "{e:?}");
    assert!(e.message.contains("too many pendings created"), "{e:?}");
    assert!(!e.message.contains("alice"), "{e:?}");
    assert_eq!(h.runs.load(std::sync::atomic::Ordering::SeqCst), 0);
    c.client.cancel().await.unwrap();
}
