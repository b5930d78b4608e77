"""A legacy session opened on one gateway replica is served by another: the session id
is a signed token, not an entry in one process's memory."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from support.gateway_mcp import GatewayRun, Stack

pytestmark = pytest.mark.e2e


def test_a_session_opened_on_one_replica_works_on_another(stack: Stack, tmp_path: Path) -> None:
    other = GatewayRun(stack.gateway.snapshot, tmp_path, workers=1)
    try:
        headers = {"X-API-Key": stack.key, "Accept": "application/json, text/event-stream"}
        opened = httpx.post(
            stack.url,
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {}},
            },
            headers=headers,
        )
        assert opened.status_code == 200
        session = {**headers, "Mcp-Session-Id": opened.headers["mcp-session-id"]}
        call = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "toolbox__echo", "arguments": {"text": "elsewhere"}},
        }
        answered = httpx.post(other.url + "/mcp", json=call, headers=session)
        assert answered.status_code == 200
        assert answered.json()["result"]["content"][0]["text"] == "elsewhere"
        # Ended on the replica that receives the DELETE.
        assert httpx.delete(other.url + "/mcp", headers=session).status_code == 204
        assert httpx.post(other.url + "/mcp", json=call, headers=session).status_code == 404
    finally:
        other.stop()
