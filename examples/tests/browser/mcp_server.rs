//! The `mcp_server` example: an MCP host of revision 2026-07-28 gets `input_required`, the
//! user saves the token in the browser, the host's retry runs the tool.

use fantoccini::Locator;

use super::actions::{back_and_reload, double_submit, wait_text};
use super::driver::scenario;
use super::example::start_at;
use super::{BoxError, ensure};

/// An MCP client of revision 2026-07-28 for the mcp_server scenario: no elicitation handler
/// (that revision asks through `input_required`).
#[derive(Clone)]
struct McpClient(rmcp::model::ClientConfig);

impl rmcp::ClientHandler for McpClient {
    fn get_info(&self) -> rmcp::model::ClientConfig {
        self.0.clone()
    }
}

#[tokio::test]
async fn mcp_server_in_a_browser() {
    use rmcp::ClientLifecycleMode;
    use rmcp::model::{CallToolRequestParams, CallToolResponse, ProtocolVersion};
    use rmcp::transport::StreamableHttpClientTransport;
    use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;

    scenario("mcp_server", async |c| {
        let ex = start_at(
            env!("CARGO_BIN_EXE_mcp_server"),
            "mcp-server",
            "MCP endpoint: http://",
        )?;
        // The tool call of alice's MCP host: input_required with the URL to open.
        let config: rmcp::model::ClientConfig = serde_json::from_value(serde_json::json!({
            "protocolVersion": "2026-07-28",
            "capabilities": {"elicitation": {"url": {}}},
            "clientInfo": {"name": "browser-test", "version": "1"},
        }))?;
        let transport = StreamableHttpClientTransport::from_config(
            StreamableHttpClientTransportConfig::with_uri(ex.url.clone()).auth_header("alice"),
        );
        let host = rmcp::ClientServiceExt::serve_with_lifecycle(
            McpClient(config),
            transport,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await?;
        let CallToolResponse::InputRequired(ask) = host
            .call_tool_once(CallToolRequestParams::new("list_repos"))
            .await?
        else {
            return Err("expected input_required".into());
        };
        let ask = serde_json::to_value(&ask)?;
        let url = ask["inputRequests"]["upstream_token"]["params"]["url"]
            .as_str()
            .ok_or("no url")?
            .to_owned();
        let state = ask["requestState"].as_str().ok_or("no state")?.to_owned();

        // The example's demo sign-in is the cookie `session=<user>`.
        let sign_in = async |who: &str| -> Result<(), BoxError> {
            // A page of the example's own origin first (its refusal page), so the cookie
            // has a domain.
            c.goto(&url).await?;
            c.delete_all_cookies().await?;
            let set = format!("document.cookie = 'session={who}; path=/'");
            c.execute(&set, vec![]).await?;
            c.goto(&url).await?;
            Ok(())
        };
        // Another user: refused, no form.
        sign_in("mallory").await?;
        let text = wait_text(c, "another account").await?;
        ensure(!text.contains("Save"), "mallory gets no form")?;
        // The owner: the form, saved.
        sign_in("alice").await?;
        let token = c
            .wait()
            .for_element(Locator::Css("input[name=token]"))
            .await?;
        token.send_keys("gho_from_the_browser").await?;
        // A double submit on a slow link ends on a success page.
        double_submit(c, "form button", &["Already done", "Saved"]).await?;
        back_and_reload(c, "Already done").await?;
        // The host's retry runs the tool.
        let mut retry = CallToolRequestParams::new("list_repos");
        retry.request_state = Some(state);
        let CallToolResponse::Complete(result) = host.call_tool_once(retry).await? else {
            return Err("expected the tool's result after the retry".into());
        };
        ensure(result.is_error != Some(true), format!("{result:?}"))?;
        let _ = host.cancel().await;
        ex.stop_with("TERM")
    })
    .await;
}
