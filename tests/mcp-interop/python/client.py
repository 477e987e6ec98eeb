"""An MCP host made of the official Python SDK (`mcp`), driven by examples/tests/mcp_interop.rs.

    python client.py <legacy|2026-07-28> <scenario> <mcp url> <user> [intruder]

Prints one JSON object per line on stdout ({"event": ...}); the test performs the browser
step itself. Scenarios as in ../node/client.mjs (accept, decline, cancel, nourl: no
elicitation callback, so no elicitation capability), and:
  session   opens a session as <user>, then <intruder> sends tools/list and DELETE on its
            Mcp-Session-Id with raw HTTP requests (the SDK cannot adopt a foreign session id);
            the owner lists tools in its session afterwards
"""

import asyncio
import json
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp import types

mode, scenario, url, user = sys.argv[1:5]
intruder = sys.argv[5] if len(sys.argv) > 5 else None
prompts = 0
completions: list[str] = []


def emit(event: str, **fields) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


async def on_elicit(context, params):
    global prompts
    prompts += 1
    emit("elicit", mode=getattr(params, "mode", None), url=getattr(params, "url", None),
         elicitationId=getattr(params, "elicitation_id", None))
    action = {"decline": "decline", "cancel": "cancel"}.get(scenario, "accept")
    return types.ElicitResult(action=action)


async def on_message(message) -> None:
    root = getattr(message, "root", message)
    if getattr(root, "method", None) == "notifications/elicitation/complete":
        eid = root.params.elicitation_id
        completions.append(eid)
        emit("completed", elicitationId=eid)


def text(result) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


async def hijack(session_id: str | None, protocol_version: str | None) -> dict:
    """Another bearer on the owner's session: tools/list and DELETE; the HTTP statuses."""
    headers = {
        "Authorization": f"Bearer {intruder}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "Mcp-Session-Id": session_id or "",
    }
    if protocol_version:
        headers["Mcp-Protocol-Version"] = protocol_version
    body = json.dumps({"jsonrpc": "2.0", "id": 99, "method": "tools/list"})
    async with httpx2.AsyncClient(timeout=30) as raw:
        listed = await raw.post(url, headers=headers, content=body)
        deleted = await raw.delete(url, headers=headers)
    return {"list": listed.status_code, "listBody": listed.text[:200],
            "delete": deleted.status_code}


async def main() -> None:
    global prompts
    seen_sessions: list[str] = []

    async def learn_session(response) -> None:
        sid = response.headers.get("mcp-session-id")
        if sid and sid not in seen_sessions:
            seen_sessions.append(sid)

    # An MCP host's timeouts: a tool call may wait for the user (the SDK's own default
    # client uses long reads too).
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {user}"},
                              timeout=httpx2.Timeout(30, read=300),
                              event_hooks={"response": [learn_session]})
    client = Client(
        streamable_http_client(url, http_client=http),
        mode=mode,
        elicitation_callback=None if scenario == "nourl" else on_elicit,
        message_handler=on_message,
        cache=None,
    )
    async with client:
        version = client.session._negotiated_version  # noqa: SLF001
        emit("connected", protocolVersion=version,
             sessionId=seen_sessions[0] if seen_sessions else None)
        tools = await client.list_tools()
        emit("tools", names=[t.name for t in tools.tools])
        if scenario == "session":
            tried = await hijack(seen_sessions[0] if seen_sessions else None, version)
            # The owner's session is intact.
            again = await client.list_tools()
            emit("hijack", sessionId=seen_sessions[0] if seen_sessions else None,
                 sessions=seen_sessions, ownerAfter=[t.name for t in again.tools], **tried)
            return

        async def call():
            return await client.call_tool("list_repos", {"org": "acme"})

        try:
            result = await call()
        except MCPError as e:
            if e.error.code != -32042:
                emit("error", code=e.error.code, message=e.error.message, prompts=prompts)
                return
            # 2025-11-25 -32042: show the URL, wait for the completion, retry.
            elicitations = (e.error.data or {}).get("elicitations", [])
            for el in elicitations:
                prompts += 1
                emit("elicit", mode=el.get("mode"), url=el.get("url"),
                     elicitationId=el.get("elicitationId"), via="error")
            want = elicitations[0]["elicitationId"]
            while want not in completions:
                await asyncio.sleep(0.05)
            result = await call()
        emit("result", isError=bool(result.is_error), text=text(result), prompts=prompts,
             completions=completions)


try:
    asyncio.run(main())
except BaseException as e:  # noqa: BLE001
    emit("failed", message=repr(e), prompts=prompts)
    sys.exit(1)
