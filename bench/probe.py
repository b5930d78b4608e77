"""Checks made once before loading a target: the answer is the one the load run expects.

wrk only counts statuses; a 200 carrying a JSON-RPC error, or a body of the wrong size,
would be measured as a success. These probes make sure it would not be.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from bench.nginx import BODY_BYTES

MCP_VERSION = "2025-11-25"
ECHO_TEXT = "hello"


class ProbeFailed(Exception):
    """The target does not answer as the benchmark needs; the message says how."""


def check_rest(url: str, headers: dict[str, str]) -> None:
    """GET `url` must answer 200 with the upstream's 1 KB body."""
    try:
        response = httpx.get(url, headers=headers, timeout=5.0)
    except httpx.HTTPError as exc:
        raise ProbeFailed(f"GET {url}: {exc!r}") from exc
    if response.status_code != 200:
        raise ProbeFailed(f"GET {url} answered {response.status_code}: {response.text[:300]}")
    if len(response.content) != BODY_BYTES:
        raise ProbeFailed(f"GET {url} returned {len(response.content)} bytes, not {BODY_BYTES}")


def answers_without_credentials(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5.0).status_code == 200
    except httpx.HTTPError:
        return False


def _json_rpc_result(response: httpx.Response) -> Any:
    """The JSON-RPC message in a JSON or `text/event-stream` answer."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
        if not data:
            raise ProbeFailed("an event stream without a data line")
        return json.loads(data[-1])
    return response.json()


def mcp_call_headers(url: str, credentials: dict[str, str], tool: str) -> dict[str, str]:
    """Open an MCP session at `url` and return the headers a `tools/call` needs.

    Runs `initialize`, `notifications/initialized` and one `tools/call` of `tool` with
    `{"text": "hello"}`, and checks that the echo comes back.
    """
    headers = {
        **credentials,
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
    }
    with httpx.Client(timeout=10.0) as client:

        def post(message: dict[str, Any], extra: dict[str, str]) -> httpx.Response:
            try:
                return client.post(url, json=message, headers={**headers, **extra})
            except httpx.HTTPError as exc:
                raise ProbeFailed(f"POST {url} ({message.get('method')}): {exc!r}") from exc

        init = post(
            {
                "jsonrpc": "2.0",
                "id": 0,
                "method": "initialize",
                "params": {
                    "protocolVersion": MCP_VERSION,
                    "capabilities": {},
                    "clientInfo": {"name": "stoa-bench", "version": "1"},
                },
            },
            {},
        )
        if init.status_code != 200:
            raise ProbeFailed(f"initialize answered {init.status_code}: {init.text[:300]}")
        session = {"MCP-Protocol-Version": MCP_VERSION}
        if "mcp-session-id" in init.headers:
            session["Mcp-Session-Id"] = init.headers["mcp-session-id"]
        note = post({"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
        if note.status_code != 202:
            raise ProbeFailed(f"notifications/initialized answered {note.status_code}")
        call = post(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": tool, "arguments": {"text": ECHO_TEXT}},
            },
            session,
        )
        if call.status_code != 200:
            raise ProbeFailed(f"tools/call answered {call.status_code}: {call.text[:300]}")
        message = _json_rpc_result(call)
        content = (message.get("result") or {}).get("content") or [{}]
        if content[0].get("text") != ECHO_TEXT or message["result"].get("isError"):
            raise ProbeFailed(f"tools/call {tool} did not echo: {json.dumps(message)[:300]}")
    return {**headers, **session}


def tools_call_body(tool: str) -> str:
    """The JSON-RPC body wrk sends, with `{id}` where each request's id goes."""
    params = json.dumps({"name": tool, "arguments": {"text": ECHO_TEXT}}, separators=(",", ":"))
    return '{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":' + params + "}"
