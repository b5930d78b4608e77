"""Our Streamable HTTP client for upstream MCP servers, on the shared HTTP/1.1 pool.

One `UpstreamServer` per upstream API and process remembers what the server speaks:

- **2026-07-28 (modern)**: every request is self-contained, carrying `params._meta` with
  our protocol version, capabilities and client info, and the `MCP-Protocol-Version`,
  `Mcp-Method` and (for named methods) `Mcp-Name` headers.
- **legacy (2025-03-26 .. 2025-11-25)**: `initialize` once, `notifications/initialized`,
  then every request carries `Mcp-Session-Id` (when the server gave one) and
  `MCP-Protocol-Version`. A 404 means the server forgot the session: initialize again and
  retry the request once.

The era is learnt on first use with `server/discover`, as the 2026-07-28 specification
tells dual-era clients: a result listing 2026-07-28 means modern, anything else legacy.
Responses may be JSON or an event stream; from a stream the message answering our id is
taken as soon as it arrives.

Every failure is an `UpstreamFailure` with a message fit for the MCP client: it names
the API, never its URL or credentials.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote

import msgspec

from stoa.contract.snapshot import UpstreamAuth
from stoa.gateway.mcp.sse import SseReader
from stoa.gateway.mcp.upstream.http1 import (
    HttpPool,
    HttpResponse,
    UpstreamTimeout,
    UpstreamTooLarge,
    UpstreamUnavailable,
)
from stoa.gateway.mcp.upstream.reply import Reply, decode_replies, decode_reply
from stoa.gateway.mcp.versions import (
    CLIENT_CAPABILITIES_META,
    CLIENT_INFO_META,
    LATEST_LEGACY_VERSION,
    LEGACY_VERSIONS,
    MODERN_VERSION,
    NAME_BEARING_METHODS,
    PROTOCOL_VERSION_META,
)
from stoa.gateway.snapshot.compiled import CompiledApi, UpstreamTarget

CLIENT_INFO: Final = {"name": "stoa-gateway", "version": "0.1.0"}
_MODERN_META: Final = {
    PROTOCOL_VERSION_META: MODERN_VERSION,
    CLIENT_CAPABILITIES_META: {},
    CLIENT_INFO_META: CLIENT_INFO,
}
_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder()
_ids = itertools.count(1)


class UpstreamFailure(Exception):
    """The upstream could not give an answer. `timeout` tells a slow upstream apart."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.timeout = timeout


class UpstreamRpcError(Exception):
    """The upstream answered with a JSON-RPC error, passed on to the client as it is."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(str(error.get("message")))
        self.error = error


@dataclass(slots=True)
class UpstreamServer:
    """What one upstream MCP server speaks, learnt on first use."""

    api_name: str
    target: UpstreamTarget
    path: str
    auth_headers: tuple[tuple[str, str], ...]
    era: str | None = None  # None (unknown), "modern" or "legacy"
    version: str | None = None
    session_id: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    head: bytes = b""
    """The request head up to the per-call headers, rebuilt when era or session change."""

    def rebuild_head(self) -> None:
        lines = [
            f"POST {self.path} HTTP/1.1\r\nHost: {self.target.host_header}\r\n"
            "Content-Type: application/json\r\n"
            "Accept: application/json, text/event-stream\r\n"
        ]
        lines.extend(f"{name}: {value}\r\n" for name, value in self.auth_headers)
        if self.era == "modern":
            lines.append(f"MCP-Protocol-Version: {MODERN_VERSION}\r\n")
        elif self.version is not None:
            lines.append(f"MCP-Protocol-Version: {self.version}\r\n")
        if self.session_id is not None:
            lines.append(f"Mcp-Session-Id: {self.session_id}\r\n")
        self.head = "".join(lines).encode("latin-1")


class McpUpstreams:
    """Calls into upstream MCP servers for every API of the current snapshot."""

    def __init__(self, pool: HttpPool, *, max_body: int = 10_000_000) -> None:
        self._pool = pool
        self._servers: dict[tuple[str, str, UpstreamAuth | None], UpstreamServer] = {}
        self._max_body = max_body

    def server_for(self, api: CompiledApi) -> UpstreamServer:
        # A new URL or credential (after a snapshot reload) starts afresh.
        key = (api.id, api.upstream_url, api.upstream_auth)
        server = self._servers.get(key)
        if server is None:
            if api.upstream is None:
                raise UpstreamFailure(f"the API '{api.name}' has no upstream URL")
            path = api.upstream.base_path or "/"
            headers: tuple[tuple[str, str], ...] = ()
            auth = api.upstream_auth
            if auth is not None and auth.location == "header":
                headers = ((auth.name, auth.value),)
            elif auth is not None:
                separator = "&" if "?" in path else "?"
                path = f"{path}{separator}{quote(auth.name)}={quote(auth.value, safe='')}"
            query = api.upstream_url.partition("?")[2]
            if query and auth is None:
                path = f"{path}?{query}"
            elif query:
                path = f"{path}&{query}"
            server = UpstreamServer(api.name, api.upstream, path, headers)
            self._servers[key] = server
        return server

    async def request(
        self, api: CompiledApi, method: str, params: dict[str, Any], *, deadline: float
    ) -> dict[str, Any]:
        """The result of `method` on the API's upstream, decoded.

        Raises:
            UpstreamFailure: unreachable, too slow, garbled, or refusing the gateway.
            UpstreamRpcError: the upstream answered with a JSON-RPC error.
        """
        server, raw = await self.request_raw(api, method, params, deadline=deadline)
        return _as_object(server, method, raw)

    async def request_raw(
        self, api: CompiledApi, method: str, params: dict[str, Any], *, deadline: float
    ) -> tuple[UpstreamServer, msgspec.Raw]:
        """The result of `method` as the upstream encoded it (to pass it on untouched), and
        the server state (whose `era` says whether the result has `resultType`)."""
        server = self.server_for(api)
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline
        if server.era is None:
            async with server.lock:
                if server.era is None:
                    await self._learn_era(server, end - loop.time())
        if server.era == "modern":
            return server, await self._send(server, method, params, end - loop.time())
        for attempt in range(2):
            try:
                return server, await self._send(server, method, params, end - loop.time())
            except _SessionLost:
                if attempt:
                    break
                stale = server.session_id
                async with server.lock:
                    if server.session_id == stale:
                        await self._initialize(server, end - loop.time())
        raise UpstreamFailure(f"the MCP server of '{server.api_name}' keeps losing its session")

    async def _learn_era(self, server: UpstreamServer, remaining: float) -> None:
        server.era = "modern"
        server.rebuild_head()
        try:
            result = await self._exchange(server, "server/discover", {}, remaining)
        except (UpstreamRpcError, _SessionLost, UpstreamFailure) as exc:
            if isinstance(exc, UpstreamFailure) and exc.timeout:
                server.era = None
                raise
            result = {}
        supported = result.get("supportedVersions")
        if isinstance(supported, list) and MODERN_VERSION in supported:
            server.version = MODERN_VERSION
            return
        server.era = "legacy"
        server.rebuild_head()
        try:
            await self._initialize(server, remaining)
        except BaseException:
            server.era = None
            raise

    async def _initialize(self, server: UpstreamServer, remaining: float) -> None:
        server.session_id = None
        server.version = None
        server.rebuild_head()
        params = {
            "protocolVersion": LATEST_LEGACY_VERSION,
            "capabilities": {},
            "clientInfo": CLIENT_INFO,
        }
        response, raw = await self._send_message(server, "initialize", params, remaining)
        result = _as_object(server, "initialize", raw)
        version = result.get("protocolVersion")
        if version not in LEGACY_VERSIONS:
            raise UpstreamFailure(
                f"the MCP server of '{server.api_name}' answered initialize with protocol "
                f"version {version!r}, which the gateway does not speak"
            )
        server.version = str(version)
        server.session_id = response.headers.get("mcp-session-id")
        server.rebuild_head()
        notification = _encoder.encode({"jsonrpc": "2.0", "method": "notifications/initialized"})
        await self._post(server, "notifications/initialized", None, notification, remaining)

    async def _exchange(
        self, server: UpstreamServer, method: str, params: dict[str, Any], remaining: float
    ) -> dict[str, Any]:
        return _as_object(server, method, await self._send(server, method, params, remaining))

    async def _send(
        self, server: UpstreamServer, method: str, params: dict[str, Any], remaining: float
    ) -> msgspec.Raw:
        _, raw = await self._send_message(server, method, params, remaining)
        return raw

    async def _send_message(
        self, server: UpstreamServer, method: str, params: dict[str, Any], remaining: float
    ) -> tuple[HttpResponse, msgspec.Raw]:
        request_id = next(_ids)
        name: str | None = None
        if server.era == "modern":
            params = {**params, "_meta": _MODERN_META}
            key = NAME_BEARING_METHODS.get(method)
            value = params.get(key) if key else None
            name = value if isinstance(value, str) else None
        message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        body = _encoder.encode(message)
        reader = SseReader(raw=True)
        found: list[Reply] = []

        def sse_done(chunk: bytes) -> bool:
            for data in reader.feed(chunk):
                reply = decode_reply(data)
                if reply is not None and reply.id == request_id:
                    found.append(reply)
                    return True
            return False

        response = await self._post(server, method, name, body, remaining, sse_done)
        if response.status == 404 and server.era == "legacy" and method != "initialize":
            raise _SessionLost
        answer = found[0] if found else _answer(response, reader, request_id)
        if answer is None:
            raise UpstreamFailure(_status_problem(server, method, response))
        if answer.error is not None:
            raise UpstreamRpcError(answer.error)
        if not answer.has_result:
            raise UpstreamFailure(
                f"the MCP server of '{server.api_name}' answered {method} without a result"
            )
        return response, answer.result

    async def _post(
        self,
        server: UpstreamServer,
        method: str,
        name: str | None,
        body: bytes,
        remaining: float,
        sse_done: Any = None,
    ) -> HttpResponse:
        if remaining <= 0:
            raise UpstreamFailure(
                f"the MCP server of '{server.api_name}' did not answer in time", timeout=True
            )
        extra = b""
        if server.era == "modern":
            extra = b"Mcp-Method: " + method.encode() + b"\r\n"
            if name is not None:
                extra += b"Mcp-Name: " + _header_value(name).encode() + b"\r\n"
        length = b"Content-Length: %d\r\n\r\n" % len(body)
        try:
            return await self._pool.send(
                server.target,
                server.head + extra + length + body,
                deadline=remaining,
                max_body=self._max_body,
                sse_done=sse_done,
            )
        except UpstreamTimeout:
            raise UpstreamFailure(
                f"the MCP server of '{server.api_name}' did not answer {method} within "
                f"{remaining:.3g} s",
                timeout=True,
            ) from None
        except (UpstreamUnavailable, UpstreamTooLarge) as exc:
            raise UpstreamFailure(
                f"the MCP server of '{server.api_name}' failed on {method}: {exc}"
            ) from None


class _SessionLost(Exception):
    """The upstream answered 404 to a request in a session: the session is gone."""


def _answer(response: HttpResponse, reader: SseReader, request_id: int) -> Reply | None:
    """The reply answering `request_id`, from a JSON body or a finished stream; failing
    that, an error the server could not tie to a request (id null)."""
    content_type = response.content_type()
    replies: list[Reply] = []
    if content_type == "text/event-stream":
        replies = [r for r in map(decode_reply, reader.close()) if r is not None]
    elif content_type == "application/json" or content_type.endswith("+json"):
        body = response.body.lstrip()
        if body.startswith(b"["):
            decoded = decode_replies(body)
            if decoded is None:
                return None
            replies = decoded
        else:
            reply = decode_reply(body)
            replies = [reply] if reply is not None else []
    orphan: Reply | None = None
    for reply in replies:
        if reply.id == request_id and (reply.has_result or reply.error is not None):
            return reply
        if reply.id is None and reply.error is not None and orphan is None:
            orphan = reply
    return orphan


def _as_object(server: UpstreamServer, method: str, raw: msgspec.Raw) -> dict[str, Any]:
    try:
        result = _decoder.decode(raw)
    except (msgspec.DecodeError, ValueError, RecursionError):
        result = None
    if not isinstance(result, dict):
        raise UpstreamFailure(
            f"the MCP server of '{server.api_name}' answered {method} with a result that is "
            "not an object"
        )
    return result


def _status_problem(server: UpstreamServer, method: str, response: HttpResponse) -> str:
    where = f"the MCP server of '{server.api_name}'"
    if response.status in (401, 403):
        return f"{where} refused the gateway's credentials (HTTP {response.status})"
    if response.status >= 400:
        return f"{where} answered {method} with HTTP {response.status}"
    return f"{where} answered {method} with a body that is not a JSON-RPC response"


def _header_value(value: str) -> str:
    """A header-safe rendering: plain printable ASCII as it is, else the base64 sentinel."""
    if value.isascii() and value.isprintable() and value == value.strip():
        return value
    return f"=?base64?{base64.b64encode(value.encode()).decode('ascii')}?="
