"""CPU per `tools/call` inside the MCP endpoint, without the HTTP server in front.

    python -m bench.mcp_endpoint [--calls 20000] [--modern]

Starts `bench.mcp_upstream`, compiles the bench snapshot, and calls
`McpEndpoint.handle` in a loop on uvloop (one request at a time); then sends the same
upstream exchange straight through the endpoint's HTTP pool (the socket round trip any
gateway pays); then calls the endpoint again with the upstream's answer made in process,
which leaves what the MCP layer's own code costs (JSON-RPC, session check, tool routing,
rate limit, usage event, upstream MCP client). CPU is this process's
`time.process_time()`; the upstream runs in another process and is not counted. Run it on
a quiet machine; it prints, never asserts.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import msgspec
import uvloop

from bench.processes import free_port
from bench.snapshot import ECHO_TOOL, MCP_API, write_snapshot
from stoa.contract.snapshot import decode_snapshot
from stoa.gateway.auth.api_key import caller_for_key
from stoa.gateway.http.request import Request
from stoa.gateway.mcp.endpoint import AGGREGATE, McpEndpoint
from stoa.gateway.mcp.upstream.http1 import HttpResponse
from stoa.gateway.snapshot.holder import SnapshotHolder
from stoa.kit.settings import Settings


@dataclass
class _Context:
    settings: Settings
    holder: SnapshotHolder


async def _measure(port: int, calls: int, modern: bool) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        written = write_snapshot(
            Path(scratch), "http://127.0.0.1:9", f"http://127.0.0.1:{port}/mcp"
        )
        holder = SnapshotHolder()
        compiled = holder.install(decode_snapshot(written.path.read_bytes()))
    caller = caller_for_key(compiled, written.api_key, time.time())
    endpoint = McpEndpoint(_Context(Settings(), holder))
    accept = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    name = f"{MCP_API}__{ECHO_TOOL}"
    if modern:
        headers = {
            **accept,
            "mcp-protocol-version": "2026-07-28",
            "mcp-method": "tools/call",
            "mcp-name": name,
        }
        meta: dict[str, object] = {
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            }
        }
    else:
        init = (
            b'{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":'
            b'"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}'
        )
        opened = await endpoint.handle(
            Request("POST", "/mcp", "", accept, init, "127.0.0.1", "r"), caller, AGGREGATE
        )
        session = dict(opened.headers)["mcp-session-id"]
        headers = {**accept, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"}
        meta = {}
    params = {"name": name, "arguments": {"text": "hello"}, **meta}
    body = msgspec.json.encode(
        {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params}
    )
    request = Request("POST", "/mcp", "", headers, body, "127.0.0.1", "r")
    first = await endpoint.handle(request, caller, AGGREGATE)
    if first.status != 200 or b'"hello"' not in first.body:
        raise SystemExit(f"unexpected answer: {first.status} {first.body[:300]!r}")

    for _ in range(calls // 10):
        await endpoint.handle(request, caller, AGGREGATE)
    started = time.process_time()
    for _ in range(calls):
        await endpoint.handle(request, caller, AGGREGATE)
    per_call = (time.process_time() - started) / calls * 1e6

    grant = next(g for g in caller.grants.values() if g.api.name == MCP_API)
    server = endpoint.methods.upstreams.server_for(grant.api)
    raw = (
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call",'
        b'"params":{"name":"echo","arguments":{"text":"hello"}}}'
    )
    message = server.head + b"Content-Length: %d\r\n\r\n" % len(raw) + raw
    started = time.process_time()
    for _ in range(calls):
        await endpoint.pool.send(server.target, message, deadline=5.0)
    floor = (time.process_time() - started) / calls * 1e6

    async def answered_in_process(
        target: object, sent: bytes, *, deadline: float, **_: object
    ) -> HttpResponse:
        request_id = int(sent.split(b'"id":', 1)[1].split(b",", 1)[0])
        return HttpResponse(200, {"content-type": "application/json"}, _ECHOED % request_id)

    endpoint.methods.upstreams._pool.send = answered_in_process  # type: ignore[method-assign,assignment]
    started = time.process_time()
    for _ in range(calls):
        await endpoint.handle(request, caller, AGGREGATE)
    logic = (time.process_time() - started) / calls * 1e6
    await endpoint.close()
    era = "2026-07-28" if modern else "2025-11-25 session"
    print(f"McpEndpoint.handle, tools/call ({era}):     {per_call:6.1f} µs CPU per call")
    print(f"  the upstream exchange alone, on the same pool: {floor:6.1f} µs")
    print(f"  the endpoint with the upstream answered in process: {logic:6.1f} µs")


_ECHOED = b'{"jsonrpc":"2.0","id":%d,"result":{"content":[{"type":"text","text":"hello"}]}}'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--modern", action="store_true", help="2026-07-28 instead of a session")
    args = parser.parse_args()
    port = free_port()
    upstream = subprocess.Popen([sys.executable, "-m", "bench.mcp_upstream", "--port", str(port)])
    try:
        time.sleep(1.0)
        uvloop.run(_measure(port, args.calls, args.modern))
    finally:
        upstream.terminate()
        upstream.wait()


if __name__ == "__main__":
    main()
