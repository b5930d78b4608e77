"""Discovering the tools of real MCP servers over Streamable HTTP on loopback.

The well-behaved servers are built with the official MCP SDK (dual-era: 2026-07-28 and
the initialize handshake); a wrapper turns one into a legacy-only server the way older
servers answer modern requests. Misbehaving servers are small Starlette apps answering
crafted JSON-RPC.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import mcp_types
import pytest
import uvicorn
from mcp.server.lowlevel import Server
from mcp.server.mcpserver import MCPServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stoa.controlplane.catalog.mcp_discovery import discover_mcp_tools
from stoa.controlplane.catalog.tool_draft import ToolDraft
from stoa.kit.errors import UnsafeUrl, UpstreamError
from stoa.kit.ssrf import FetchPolicy, SafeFetcher

LOOPBACK = FetchPolicy(
    allow_private_networks=True, timeout_seconds=10, max_response_bytes=1_000_000
)


# --- serving ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """Run `app` with uvicorn on a free 127.0.0.1 port in a thread; yield its base URL."""
    port = _free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        ws="none",
        http="h11",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Recorded:
    method: str
    headers: dict[str, str]
    rpc_method: str | None


@dataclass
class Recorder:
    """ASGI wrapper noting every request; `legacy_only` makes it answer 2026-07-28 requests
    the way a server that predates that version does (400, no JSON-RPC body)."""

    app: ASGIApp
    legacy_only: bool = False
    requests: list[Recorded] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        rpc_method = json.loads(body).get("method") if body else None
        self.requests.append(Recorded(scope["method"], headers, rpc_method))
        if self.legacy_only and headers.get("mcp-protocol-version") == "2026-07-28":
            await PlainTextResponse("Bad Request: Missing session ID", 400)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @property
    def rpc_methods(self) -> list[str | None]:
        return [r.rpc_method if r.method == "POST" else r.method for r in self.requests]


def toolbox() -> MCPServer:
    server = MCPServer("toolbox")

    @server.tool(
        title="Echo",
        annotations=mcp_types.ToolAnnotations(read_only_hint=True, open_world_hint=False),
    )
    def echo(text: str) -> str:
        """Return the text."""
        return text

    @server.tool(name="math.add", structured_output=True)
    def add(a: int, b: int = 1) -> dict[str, int]:
        return {"sum": a + b}

    return server


def paged_server(total: int, page_size: int) -> Server[Any]:
    async def list_tools(
        ctx: Any, params: mcp_types.PaginatedRequestParams | None
    ) -> mcp_types.ListToolsResult:
        start = int(params.cursor) if params is not None and params.cursor else 0
        end = min(start + page_size, total)
        tools = [
            mcp_types.Tool(name=f"tool_{i:02d}", input_schema={"type": "object"})
            for i in range(start, end)
        ]
        return mcp_types.ListToolsResult(tools=tools, next_cursor=str(end) if end < total else None)

    return Server("paged", on_list_tools=list_tools)


@pytest.fixture(scope="module", params=["sse", "json"])
def toolbox_url(request: pytest.FixtureRequest) -> Iterator[str]:
    app = toolbox().streamable_http_app(json_response=request.param == "json")
    with serving(app) as base:
        yield base + "/mcp"


@pytest.fixture
async def fetcher() -> AsyncIterator[SafeFetcher]:
    async with SafeFetcher(LOOPBACK) as safe:
        yield safe


def by_name(drafts: list[ToolDraft]) -> dict[str, ToolDraft]:
    return {draft.name: draft for draft in drafts}


# --- well-behaved servers --------------------------------------------------------------


@pytest.mark.anyio
async def test_modern_server_tools_are_discovered(toolbox_url: str, fetcher: SafeFetcher) -> None:
    drafts = await discover_mcp_tools(toolbox_url, fetcher)

    assert [draft.name for draft in drafts] == ["echo", "math.add"]
    echo, add = drafts
    assert echo.description == "Return the text."
    assert echo.input_schema["type"] == "object"
    assert echo.input_schema["required"] == ["text"]
    assert echo.annotations == {"readOnlyHint": True, "openWorldHint": False, "title": "Echo"}
    assert echo.binding is None
    assert add.description == ""
    assert set(add.input_schema["properties"]) == {"a", "b"}
    assert add.output_schema is not None
    assert add.output_schema["type"] == "object"


@pytest.mark.anyio
@pytest.mark.parametrize("json_response", [False, True], ids=["sse", "json"])
async def test_legacy_server_is_discovered_through_the_handshake(
    json_response: bool, fetcher: SafeFetcher
) -> None:
    recorder = Recorder(toolbox().streamable_http_app(json_response=json_response), True)
    with serving(recorder) as base:
        drafts = await discover_mcp_tools(
            base + "/mcp", fetcher, headers={"Authorization": "Bearer upstream"}
        )

    assert [draft.name for draft in drafts] == ["echo", "math.add"]
    assert by_name(drafts)["echo"].annotations["title"] == "Echo"
    assert recorder.rpc_methods == [
        "server/discover",
        "initialize",
        "notifications/initialized",
        "tools/list",
        "DELETE",
    ]
    probe, initialize, initialized, tools_list, delete = recorder.requests
    assert probe.headers["mcp-method"] == "server/discover"
    assert "mcp-protocol-version" not in initialize.headers
    session = tools_list.headers["mcp-session-id"]
    assert session
    assert initialized.headers["mcp-session-id"] == session
    assert delete.headers["mcp-session-id"] == session
    assert tools_list.headers["mcp-protocol-version"] == "2025-11-25"
    assert all(r.headers["authorization"] == "Bearer upstream" for r in recorder.requests)
    assert all("text/event-stream" in r.headers["accept"] for r in recorder.requests)


@pytest.mark.anyio
async def test_modern_server_is_listed_without_a_handshake(fetcher: SafeFetcher) -> None:
    recorder = Recorder(toolbox().streamable_http_app())
    with serving(recorder) as base:
        await discover_mcp_tools(base + "/mcp", fetcher, headers={"Mcp-Method": "forged"})

    assert recorder.rpc_methods == ["server/discover", "tools/list"]
    tools_list = recorder.requests[1]
    assert tools_list.headers["mcp-protocol-version"] == "2026-07-28"
    assert tools_list.headers["mcp-method"] == "tools/list"
    assert "mcp-session-id" not in tools_list.headers


@pytest.mark.anyio
@pytest.mark.parametrize("legacy_only", [False, True], ids=["modern", "legacy"])
async def test_pages_are_followed_to_the_end(legacy_only: bool, fetcher: SafeFetcher) -> None:
    recorder = Recorder(paged_server(total=7, page_size=3).streamable_http_app(), legacy_only)
    with serving(recorder) as base:
        drafts = await discover_mcp_tools(base + "/mcp", fetcher)

    assert [draft.name for draft in drafts] == [f"tool_{i:02d}" for i in range(7)]
    assert recorder.rpc_methods.count("tools/list") == 3


# --- servers STOA must refuse ----------------------------------------------------------


@pytest.mark.anyio
async def test_a_url_that_is_not_an_mcp_server_is_an_upstream_error(fetcher: SafeFetcher) -> None:
    with serving(Starlette()) as base, pytest.raises(UpstreamError) as caught:
        await discover_mcp_tools(base + "/not-mcp?token=secret", fetcher)

    assert caught.value.detail == (
        f"MCP server at {base}/not-mcp answered initialize with HTTP 404; "
        "check that the URL is the server's MCP endpoint (often ending in /mcp)"
    )


@pytest.mark.anyio
async def test_private_url_is_refused_when_private_networks_are_not_allowed() -> None:
    recorder = Recorder(toolbox().streamable_http_app())
    strict = FetchPolicy(allow_private_networks=False, timeout_seconds=5, max_response_bytes=1000)
    with serving(recorder) as base:
        async with SafeFetcher(strict) as fetcher:
            with pytest.raises(UnsafeUrl, match="STOA_FETCH__ALLOW_PRIVATE_NETWORKS=true"):
                await discover_mcp_tools(base + "/mcp", fetcher)
    assert recorder.requests == []


@pytest.mark.anyio
async def test_server_without_tools_reports_the_json_rpc_error(fetcher: SafeFetcher) -> None:
    with (
        serving(Server("empty").streamable_http_app()) as base,
        pytest.raises(UpstreamError) as caught,
    ):
        await discover_mcp_tools(base + "/mcp", fetcher)

    assert caught.value.detail.startswith(
        f"MCP server at {base}/mcp answered tools/list with error -32601: "
    )


RpcHandler = Callable[[dict[str, Any]], Awaitable[Response]]


def fake_mcp(answer: RpcHandler) -> Starlette:
    """An endpoint at /mcp answering each JSON-RPC message with `answer`."""

    async def endpoint(request: Request) -> Response:
        if request.method == "DELETE":
            return Response(status_code=405)
        return await answer(json.loads(await request.body()))

    return Starlette(routes=[Route("/mcp", endpoint, methods=["POST", "DELETE"])])


def rpc_result(message: dict[str, Any], result: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"jsonrpc": "2.0", "id": message["id"], "result": result})


def modern(tools_result: Callable[[dict[str, Any]], Response]) -> RpcHandler:
    """A modern server whose tools/list answer is `tools_result`."""

    async def answer(message: dict[str, Any]) -> Response:
        if message["method"] == "server/discover":
            return rpc_result(message, {"supportedVersions": ["2026-07-28"], "capabilities": {}})
        return tools_result(message)

    return answer


async def discover_from(app: Starlette, fetcher: SafeFetcher) -> list[ToolDraft]:
    with serving(app) as base:
        return await discover_mcp_tools(base + "/mcp", fetcher)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("tool", "message"),
    [
        ({"name": "has space", "inputSchema": {"type": "object"}}, "tool named 'has space'"),
        ({"name": "x" * 129}, "tool names must be 1 to 128 characters"),
        ({"inputSchema": {"type": "object"}}, "tool named None"),
        ({"name": "t", "inputSchema": {"type": "string"}}, "inputSchema that is not"),
        ({"name": "t", "description": 5}, "description that is not text"),
        ({"name": "t", "annotations": []}, "annotations that are not an object"),
        ({"name": "t", "outputSchema": "object"}, "outputSchema that is not an object"),
    ],
)
async def test_invalid_tools_are_refused(
    tool: dict[str, Any], message: str, fetcher: SafeFetcher
) -> None:
    app = fake_mcp(modern(lambda m: rpc_result(m, {"tools": [tool]})))
    with pytest.raises(UpstreamError, match=message):
        await discover_from(app, fetcher)


@pytest.mark.anyio
async def test_tool_defaults_fill_in_missing_fields(fetcher: SafeFetcher) -> None:
    app = fake_mcp(modern(lambda m: rpc_result(m, {"tools": [{"name": "bare"}]})))
    (draft,) = await discover_from(app, fetcher)
    assert draft == ToolDraft("bare", "", {"type": "object"}, None, {}, None)


@pytest.mark.anyio
async def test_duplicate_tool_names_are_refused(fetcher: SafeFetcher) -> None:
    app = fake_mcp(modern(lambda m: rpc_result(m, {"tools": [{"name": "a"}, {"name": "a"}]})))
    with pytest.raises(UpstreamError, match="lists the tool 'a' twice"):
        await discover_from(app, fetcher)


@pytest.mark.anyio
async def test_a_cursor_that_repeats_is_refused(fetcher: SafeFetcher) -> None:
    app = fake_mcp(modern(lambda m: rpc_result(m, {"tools": [], "nextCursor": "same"})))
    with pytest.raises(UpstreamError, match="repeated nextCursor"):
        await discover_from(app, fetcher)


@pytest.mark.anyio
async def test_garbage_answer_is_an_upstream_error(fetcher: SafeFetcher) -> None:
    app = fake_mcp(modern(lambda m: PlainTextResponse("<html>hello</html>")))
    with pytest.raises(UpstreamError, match="answered tools/list with content type text/plain"):
        await discover_from(app, fetcher)


@pytest.mark.anyio
async def test_modern_only_server_with_no_common_version_is_refused(
    fetcher: SafeFetcher,
) -> None:
    async def answer(message: dict[str, Any]) -> Response:
        error = {
            "code": -32022,
            "message": "Unsupported protocol version",
            "data": {"supported": ["2099-01-01"], "requested": "2026-07-28"},
        }
        return JSONResponse({"jsonrpc": "2.0", "id": message["id"], "error": error}, 400)

    with pytest.raises(UpstreamError, match="supports only protocol versions 2099-01-01"):
        await discover_from(fake_mcp(answer), fetcher)


@pytest.mark.anyio
async def test_legacy_server_with_an_unknown_version_is_refused(fetcher: SafeFetcher) -> None:
    async def answer(message: dict[str, Any]) -> Response:
        if message["method"] == "initialize":
            return rpc_result(message, {"protocolVersion": "2024-11-05", "capabilities": {}})
        return JSONResponse(
            {"jsonrpc": "2.0", "id": message.get("id"), "error": {"code": -32601, "message": "?"}}
        )

    with pytest.raises(UpstreamError, match="initialize with protocol version '2024-11-05'"):
        await discover_from(fake_mcp(answer), fetcher)


@pytest.mark.anyio
async def test_event_stream_answer_skips_other_messages(fetcher: SafeFetcher) -> None:
    def stream(message: dict[str, Any]) -> Response:
        events = [
            ": keep-alive",
            "id: 0\ndata:",
            "event: message\ndata: "
            + json.dumps({"jsonrpc": "2.0", "method": "notifications/progress", "params": {}}),
            "data: " + json.dumps({"jsonrpc": "2.0", "id": 999, "result": {"tools": []}}),
            'event: message\ndata: {"jsonrpc": "2.0", "id": '
            + json.dumps(message["id"])
            + ',\ndata:  "result": {"tools": [{"name": "streamed"}]}}',
        ]
        return Response("\r\n\r\n".join(events) + "\r\n\r\n", media_type="text/event-stream")

    drafts = await discover_from(fake_mcp(modern(stream)), fetcher)
    assert [draft.name for draft in drafts] == ["streamed"]
