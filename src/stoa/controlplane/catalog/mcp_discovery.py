"""List the tools of an upstream MCP server over Streamable HTTP.

A minimal JSON-RPC client of our own, sending every request through `SafeFetcher` so the
SSRF guard, timeout and size limit apply to each one. It speaks both eras of the
protocol, the way the 2026-07-28 specification tells a dual-era client to:

1. **Probe the modern (stateless) protocol.** POST `server/discover` with the 2026-07-28
   per-request `_meta` (protocol version, client capabilities, client info) and the
   `MCP-Protocol-Version` and `Mcp-Method` headers. `server/discover` is the probe the
   specification and the official SDKs use: every modern server MUST implement it, it has
   no side effects, and a legacy server cannot mistake it for something it would act on.
   A result whose `supportedVersions` includes 2026-07-28 makes the server modern, and
   `tools/list` follows statelessly, with the same `_meta` and headers.
2. **Otherwise fall back to the legacy handshake** (2025-03-26, 2025-06-18, 2025-11-25):
   any answer that is not positive modern evidence (a 4xx without a modern error body, a
   JSON-RPC error such as "method not found", an unusable body) means legacy, as the
   specification's backward-compatibility rules say. The one exception is
   `UnsupportedProtocolVersionError` (-32022) listing only versions STOA does not speak:
   that server is modern and incompatible, and the error says so. The handshake is
   `initialize` (offering 2025-11-25 and accepting any of the three legacy versions the
   server answers), keeping `Mcp-Session-Id` if one is given, `notifications/initialized`,
   `tools/list` with `MCP-Protocol-Version` from then on, and a final `DELETE` of the
   session whose failure is ignored.

Transport failures (refused URL, no connection, timeout, oversized body) are never an
era verdict: they end discovery at once with the `SafeFetcher` error.

Responses may be `application/json` or a `text/event-stream` that ends; from a stream the
JSON-RPC response whose id matches the request is used and other messages are skipped.
`tools/list` is followed through `nextCursor` for at most `MAX_PAGES` pages and
`MAX_TOOLS` tools. Every failure is an `UpstreamError` that names the server URL (without
its query string) and the method, e.g. "MCP server at https://h/mcp answered tools/list
with error -32601: Method not found".
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final

from stoa.controlplane.catalog.tool_draft import ToolDraft
from stoa.kit.errors import StoaError, UpstreamError
from stoa.kit.ssrf import FetchedResponse, SafeFetcher, display_url

MODERN_VERSION: Final = "2026-07-28"
LEGACY_VERSIONS: Final = ("2025-03-26", "2025-06-18", "2025-11-25")
OFFERED_LEGACY_VERSION: Final = "2025-11-25"
MAX_PAGES: Final = 50
MAX_TOOLS: Final = 10_000

UNSUPPORTED_PROTOCOL_VERSION: Final = -32022

# The MCP tool-name rule (2025-11-25 and later): 1 to 128 characters from this set.
_TOOL_NAME: Final = re.compile(r"[A-Za-z0-9_.-]{1,128}")
# Mcp-Session-Id may only hold visible ASCII.
_SESSION_ID: Final = re.compile(r"[\x21-\x7e]+")
_SSE_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n")
_PROTOCOL_HEADERS: Final = frozenset(
    {"accept", "content-type", "mcp-protocol-version", "mcp-method", "mcp-session-id"}
)

try:
    _STOA_VERSION = version("stoa")
except PackageNotFoundError:  # running from a source tree that was never installed
    _STOA_VERSION = "0"
CLIENT_INFO: Final = {"name": "stoa", "version": _STOA_VERSION}


async def discover_mcp_tools(
    url: str, fetcher: SafeFetcher, *, headers: Mapping[str, str] | None = None
) -> list[ToolDraft]:
    """The tools the MCP server at `url` lists, in its order, as drafts (binding None).

    `headers` (for example the upstream's `Authorization`) go with every request; they
    cannot replace the protocol headers.

    Raises:
        UnsafeUrl, InvalidInput: `url` is refused by the fetcher's SSRF policy.
        UpstreamError: the server cannot be reached, does not speak a supported MCP
            version, answers with an error or garbage, or lists an invalid tool.
    """
    client = _Client(url, fetcher, headers or {})
    if await client.probe_modern():
        return _drafts(await client.list_tools(), client)
    await client.initialize()
    try:
        return _drafts(await client.list_tools(), client)
    finally:
        await client.end_session()


@dataclass(frozen=True, slots=True)
class _Reply:
    """One JSON-RPC exchange: exactly one of `result`, `error` or `problem` is set."""

    response: FetchedResponse
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    problem: str | None = None


class _Client:
    def __init__(self, url: str, fetcher: SafeFetcher, headers: Mapping[str, str]) -> None:
        self.url = url
        self.shown = display_url(url)
        self.fetcher = fetcher
        self.headers = {k: v for k, v in headers.items() if k.lower() not in _PROTOCOL_HEADERS}
        self.modern = False
        self.protocol_version: str | None = None
        self.session_id: str | None = None
        self._last_id = 0

    async def probe_modern(self) -> bool:
        """True if the server speaks 2026-07-28; False if it should be treated as legacy."""
        self.modern = True
        reply = await self._exchange("server/discover", {"_meta": _modern_meta()})
        if reply.result is not None:
            supported = reply.result.get("supportedVersions")
            if isinstance(supported, list) and MODERN_VERSION in supported:
                self.protocol_version = MODERN_VERSION
                return True
        elif reply.error is not None and reply.error["code"] == UNSUPPORTED_PROTOCOL_VERSION:
            data = reply.error.get("data")
            supported = data.get("supported") if isinstance(data, dict) else None
            if isinstance(supported, list) and not any(
                v in supported for v in (*LEGACY_VERSIONS, MODERN_VERSION)
            ):
                raise UpstreamError(
                    f"MCP server at {self.shown} supports only protocol versions "
                    f"{', '.join(map(str, supported))}; STOA speaks "
                    f"{', '.join((*LEGACY_VERSIONS, MODERN_VERSION))}"
                )
        self.modern = False
        return False

    async def initialize(self) -> None:
        reply = await self._exchange(
            "initialize",
            {
                "protocolVersion": OFFERED_LEGACY_VERSION,
                "capabilities": {},
                "clientInfo": CLIENT_INFO,
            },
        )
        result = self._result_of("initialize", reply)
        answered = result.get("protocolVersion")
        if answered not in LEGACY_VERSIONS:
            raise UpstreamError(
                f"MCP server at {self.shown} answered initialize with protocol version "
                f"{answered!r}; STOA speaks {', '.join((*LEGACY_VERSIONS, MODERN_VERSION))}"
            )
        session_id = reply.response.headers.get("mcp-session-id")
        if session_id is not None and not _SESSION_ID.fullmatch(session_id):
            raise UpstreamError(
                f"MCP server at {self.shown} sent an Mcp-Session-Id that is not visible ASCII"
            )
        self.session_id = session_id
        self.protocol_version = str(answered)
        response = await self._post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        if not 200 <= response.status < 300:
            raise UpstreamError(
                f"MCP server at {self.shown} answered notifications/initialized with "
                f"HTTP {response.status}"
            )

    async def list_tools(self) -> list[Any]:
        tools: list[Any] = []
        cursor: str | None = None
        seen: set[str] = set()
        for _page in range(MAX_PAGES):
            params: dict[str, Any] = {"_meta": _modern_meta()} if self.modern else {}
            if cursor is not None:
                params["cursor"] = cursor
            result = self._result_of("tools/list", await self._exchange("tools/list", params))
            result_type = result.get("resultType", "complete")
            if result_type != "complete":
                raise UpstreamError(
                    f"MCP server at {self.shown} answered tools/list with resultType "
                    f"{result_type!r}; listing tools must not need further input"
                )
            page = result.get("tools")
            if not isinstance(page, list):
                raise UpstreamError(
                    f"MCP server at {self.shown} answered tools/list without a `tools` list"
                )
            tools.extend(page)
            if len(tools) > MAX_TOOLS:
                raise UpstreamError(f"MCP server at {self.shown} lists more than {MAX_TOOLS} tools")
            next_cursor = result.get("nextCursor")
            if next_cursor is None or next_cursor == "":
                return tools
            if not isinstance(next_cursor, str) or next_cursor in seen:
                raise UpstreamError(
                    f"MCP server at {self.shown} answered tools/list with an invalid or "
                    "repeated nextCursor"
                )
            seen.add(next_cursor)
            cursor = next_cursor
        raise UpstreamError(
            f"MCP server at {self.shown} spreads its tools over more than {MAX_PAGES} pages"
        )

    async def end_session(self) -> None:
        """Tell the server the session is over; a server that cannot is no concern of ours."""
        if self.session_id is None:
            return
        with contextlib.suppress(StoaError):
            await self.fetcher.request("DELETE", self.url, headers=self._headers(None))

    async def _exchange(self, method: str, params: dict[str, Any] | None) -> _Reply:
        self._last_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": self._last_id, "method": method}
        if params:
            message["params"] = params
        response = await self._post(message)
        return _interpret(response, self._last_id)

    async def _post(self, message: dict[str, Any]) -> FetchedResponse:
        return await self.fetcher.request(
            "POST", self.url, headers=self._headers(str(message["method"])), json=message
        )

    def _headers(self, method: str | None) -> dict[str, str]:
        headers = {
            **self.headers,
            "Accept": "application/json, text/event-stream",
        }
        if self.modern:
            headers["MCP-Protocol-Version"] = MODERN_VERSION
            if method is not None:
                headers["Mcp-Method"] = method
        elif self.protocol_version is not None:
            headers["MCP-Protocol-Version"] = self.protocol_version
        if self.session_id is not None:
            headers["Mcp-Session-Id"] = self.session_id
        return headers

    def _result_of(self, method: str, reply: _Reply) -> dict[str, Any]:
        if reply.result is not None:
            return reply.result
        if reply.error is not None:
            raise UpstreamError(
                f"MCP server at {self.shown} answered {method} with error "
                f"{reply.error['code']}: {reply.error['message']}"
            )
        raise UpstreamError(f"MCP server at {self.shown} answered {method} with {reply.problem}")


def _modern_meta() -> dict[str, Any]:
    return {
        "io.modelcontextprotocol/protocolVersion": MODERN_VERSION,
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": CLIENT_INFO,
    }


def _interpret(response: FetchedResponse, request_id: int) -> _Reply:
    """The JSON-RPC outcome of one HTTP response to request `request_id`."""
    messages, unreadable = _messages(response)
    matched = _matching(messages, request_id)
    ok = 200 <= response.status < 300
    if matched is not None and "error" in matched:
        error = matched["error"]
        if (
            isinstance(error, dict)
            and isinstance(error.get("code"), int)
            and isinstance(error.get("message"), str)
        ):
            return _Reply(response, error=error)
        return _Reply(response, problem="a malformed JSON-RPC error")
    if not ok:
        return _Reply(response, problem=f"HTTP {response.status}{_status_hint(response.status)}")
    if unreadable is not None:
        return _Reply(response, problem=unreadable)
    if matched is None:
        return _Reply(response, problem=f"no JSON-RPC response to request {request_id}")
    result = matched.get("result")
    if not isinstance(result, dict):
        return _Reply(response, problem="a JSON-RPC result that is not an object")
    return _Reply(response, result=result)


def _messages(response: FetchedResponse) -> tuple[list[Any], str | None]:
    """The JSON-RPC messages in a response body, or why there are none."""
    content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type == "text/event-stream":
        return _sse_messages(response.text()), None
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            body = json.loads(response.content)
        except (ValueError, RecursionError):
            return [], "a body that is not valid JSON"
        return (body if isinstance(body, list) else [body]), None
    shown = content_type or "none"
    return [], f"content type {shown} instead of application/json or text/event-stream"


def _sse_messages(text: str) -> list[Any]:
    """The JSON payloads of the `data:` events in a server-sent event stream."""
    messages: list[Any] = []
    data: list[str] = []

    def dispatch() -> None:
        if data:
            # Skip what is not JSON, such as the empty event that primes a stream.
            with contextlib.suppress(ValueError, RecursionError):
                messages.append(json.loads("\n".join(data)))
            data.clear()

    for line in _SSE_LINE_BREAK.split(text):
        if not line:
            dispatch()
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            if field == "data":
                data.append(value.removeprefix(" "))
    dispatch()
    return messages


def _matching(messages: list[Any], request_id: int) -> dict[str, Any] | None:
    """The response to `request_id`; failing that, an error the server could not tie to a
    request (id null), which is how servers report a request they could not read."""
    orphan_error = None
    for message in messages:
        if not isinstance(message, dict) or not ("result" in message or "error" in message):
            continue
        if message.get("id") == request_id and not isinstance(message.get("id"), bool):
            return message
        if message.get("id") is None and "error" in message and orphan_error is None:
            orphan_error = message
    return orphan_error


def _status_hint(status: int) -> str:
    if status in (404, 405):
        return "; check that the URL is the server's MCP endpoint (often ending in /mcp)"
    if status in (401, 403):
        return "; the server wants credentials: add them to the upstream's headers"
    return ""


def _drafts(tools: list[Any], client: _Client) -> list[ToolDraft]:
    drafts: list[ToolDraft] = []
    names: set[str] = set()
    for tool in tools:
        draft = _draft(tool, client)
        if draft.name in names:
            raise UpstreamError(f"MCP server at {client.shown} lists the tool '{draft.name}' twice")
        names.add(draft.name)
        drafts.append(draft)
    return drafts


def _draft(tool: Any, client: _Client) -> ToolDraft:
    where = f"MCP server at {client.shown}"
    if not isinstance(tool, dict):
        raise UpstreamError(f"{where} lists a tool that is not an object")
    name = tool.get("name")
    if not isinstance(name, str) or not _TOOL_NAME.fullmatch(name):
        raise UpstreamError(
            f"{where} lists a tool named {name!r}: tool names must be 1 to 128 characters "
            "from A-Z, a-z, 0-9, '_', '-' and '.'"
        )
    where = f"{where}: tool '{name}'"
    description = tool.get("description")
    if description is None:
        description = ""
    elif not isinstance(description, str):
        raise UpstreamError(f"{where} has a description that is not text")
    input_schema = tool.get("inputSchema")
    if input_schema is None:
        input_schema = {"type": "object"}
    elif not isinstance(input_schema, dict) or input_schema.get("type") != "object":
        raise UpstreamError(f'{where} has an inputSchema that is not {{"type": "object", ...}}')
    output_schema = tool.get("outputSchema")
    if output_schema is not None and (
        not isinstance(output_schema, dict)
        # Before 2026-07-28 an output schema must describe an object; since, any schema.
        or (not client.modern and output_schema.get("type") != "object")
    ):
        raise UpstreamError(f"{where} has an outputSchema that is not an object schema")
    annotations = tool.get("annotations")
    if annotations is None:
        annotations = {}
    elif not isinstance(annotations, dict):
        raise UpstreamError(f"{where} has annotations that are not an object")
    annotations = dict(annotations)
    title = tool.get("title")
    if isinstance(title, str) and title and "title" not in annotations:
        annotations["title"] = title
    return ToolDraft(
        name=name,
        description=description,
        input_schema=input_schema,
        output_schema=output_schema,
        annotations=annotations,
        binding=None,
    )
