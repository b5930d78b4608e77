"""A minimal, fast MCP server (Streamable HTTP, JSON responses) with one `echo` tool.

The reference for MCP `tools/call`: the same server is loaded once directly and once
behind the gateway, so the difference is the gateway's cost. It is as cheap as Python
allows: uvloop, an asyncio protocol fed by httptools (no coroutine, no framework per
request), msgspec for JSON. It answers any path; POST only (GET is 405: it offers no
server-initiated stream), and does not issue sessions, which the transport allows.

    python -m bench.mcp_upstream --port 9000
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any, cast

import httptools
import msgspec
import uvloop

PROTOCOL_VERSION = "2025-11-25"
_KNOWN_VERSIONS = ("2025-03-26", "2025-06-18", "2025-11-25")

ECHO_TOOL: dict[str, Any] = {
    "name": "echo",
    "description": "Return the text it is given.",
    "inputSchema": {
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
    },
}

_encode = msgspec.json.encode
_decode = msgspec.json.decode


def _result(request_id: Any, result: Any) -> bytes:
    return _encode({"jsonrpc": "2.0", "id": request_id, "result": result})


def _error(request_id: Any, code: int, message: str) -> bytes:
    return _encode(
        {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
    )


def answer(body: bytes) -> tuple[int, bytes]:
    """The HTTP status and JSON body for one POSTed JSON-RPC message (202, b"" if none)."""
    try:
        message = _decode(body)
    except msgspec.DecodeError:
        return 400, _error(None, -32700, "Parse error")
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return 400, _error(None, -32600, "Invalid request")
    method = message.get("method")
    if "id" not in message:
        return 202, b""  # a notification (or a response): accepted, nothing to say
    request_id = message["id"]
    params = message.get("params") or {}
    if method == "tools/call":
        arguments = params.get("arguments") or {}
        text = arguments.get("text")
        if params.get("name") != "echo":
            return 200, _error(request_id, -32602, f"Unknown tool: {params.get('name')}")
        if not isinstance(text, str):
            return 200, _error(request_id, -32602, "echo needs a string `text`")
        return 200, _result(request_id, {"content": [{"type": "text", "text": text}]})
    if method == "initialize":
        requested = params.get("protocolVersion")
        version = requested if requested in _KNOWN_VERSIONS else PROTOCOL_VERSION
        return 200, _result(
            request_id,
            {
                "protocolVersion": version,
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": {"name": "bench-echo", "version": "1.0.0"},
            },
        )
    if method == "tools/list":
        return 200, _result(request_id, {"tools": [ECHO_TOOL]})
    if method == "ping":
        return 200, _result(request_id, {})
    return 200, _error(request_id, -32601, f"Method not found: {method}")


_REASONS = {200: b"OK", 202: b"Accepted", 400: b"Bad Request", 405: b"Method Not Allowed"}


def _http_response(status: int, body: bytes) -> bytes:
    head = b"HTTP/1.1 %d %s\r\n" % (status, _REASONS[status])
    if status == 202:
        return head + b"Content-Length: 0\r\n\r\n"
    if status == 405:
        return head + b"Allow: POST\r\nContent-Length: 0\r\n\r\n"
    return head + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
        len(body),
        body,
    )


class McpProtocol(asyncio.Protocol):
    """One connection: parse requests as bytes arrive and answer each one in place."""

    def __init__(self) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.write(_http_response(400, _error(None, -32700, "Bad HTTP")))
                self._transport.close()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._body.clear()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        transport = self._transport
        if transport is None:
            return
        if self._parser.get_method() == b"POST":
            status, body = answer(b"".join(self._body))
        else:
            status, body = 405, b""
        transport.write(_http_response(status, body))
        if not self._parser.should_keep_alive():
            transport.close()


async def serve(host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(McpProtocol, host, port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
