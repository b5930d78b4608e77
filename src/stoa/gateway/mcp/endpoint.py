"""The MCP Streamable HTTP endpoint: `/mcp` and `/mcp/{tenant}/{api}`.

The gateway server authenticates the caller and hands each request to
`McpEndpoint.handle`, which answers for both protocol generations:

- **2026-07-28 (stateless)**: recognised by `MCP-Protocol-Version: 2026-07-28` or by the
  version in `params._meta`. One request per POST; `_meta` must carry the protocol
  version and client capabilities; the `MCP-Protocol-Version`, `Mcp-Method` and (for
  `tools/call`, `prompts/get`, `resources/read`) `Mcp-Name` headers must match the body
  (-32020 otherwise); an unknown version gets -32022 with the supported list. Results
  carry `resultType`, list results `ttlMs` and `cacheScope: private`. Error statuses
  follow the specification's table (400 for envelope errors, 404 for unknown methods).
- **2025-03-26, 2025-06-18, 2025-11-25**: `initialize` opens a session whose id is a
  signed token (`session.SessionCodec`), bound to the caller and the endpoint; every later
  POST needs it (400 without, 404 when forged, expired or ended: initialize again), and
  `MCP-Protocol-Version`, when sent, must match. Batches only for 2025-03-26.
  `DELETE` ends a session. JSON-RPC errors come with HTTP 200 in this generation (except
  403 for a missing scope), because legacy clients read 404 as "session gone".

Answers are JSON, or one SSE event when the client accepts only `text/event-stream`.
Notifications and client responses get 202. `GET` (a server-to-client stream) is not
offered: 405. Browser `Origin`s outside the allow-list get 403 (DNS-rebinding protection).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from typing import Any, Final, Protocol

import msgspec

from stoa.gateway.auth.caller import Caller
from stoa.gateway.http.request import Request
from stoa.gateway.http.response import Response
from stoa.gateway.mcp import jsonrpc
from stoa.gateway.mcp.catalog import Catalog, ToolView
from stoa.gateway.mcp.jsonrpc import (
    FORBIDDEN,
    HEADER_MISMATCH,
    INVALID_PARAMS,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    SESSION_NOT_FOUND,
    UNSUPPORTED_PROTOCOL_VERSION,
    Incoming,
    JsonRpcError,
)
from stoa.gateway.mcp.live_sessions import LiveSessions
from stoa.gateway.mcp.methods import (
    AGGREGATE,
    CAPABILITIES,
    INSTRUCTIONS,
    SERVER_INFO,
    Call,
    InsufficientScope,
    McpScope,
    Methods,
    RawResult,
    Timeouts,
)
from stoa.gateway.mcp.origin import OriginPolicy
from stoa.gateway.mcp.session import Session, SessionCodec
from stoa.gateway.mcp.sse import sse_event
from stoa.gateway.mcp.upstream.http1 import HttpPool
from stoa.gateway.mcp.versions import (
    BATCH_VERSION,
    CLIENT_CAPABILITIES_META,
    LEGACY_VERSIONS,
    MODERN_VERSION,
    NAME_BEARING_METHODS,
    PROTOCOL_VERSION_META,
    SERVER_INFO_META,
    negotiate_legacy,
)
from stoa.gateway.snapshot.compiled import CompiledSnapshot
from stoa.gateway.snapshot.holder import SnapshotHolder
from stoa.gateway.telemetry import metrics
from stoa.kit.settings import Settings

__all__ = ["AGGREGATE", "McpContext", "McpEndpoint", "McpScope"]

_log = logging.getLogger("stoa.gateway.mcp")

_JSON: Final = ("content-type", "application/json")
_SSE_HEADERS: Final = (("content-type", "text/event-stream"), ("cache-control", "no-cache"))
_MODERN_STATUS: Final = {
    PARSE_ERROR: 400,
    INVALID_REQUEST: 400,
    INVALID_PARAMS: 400,
    HEADER_MISMATCH: 400,
    UNSUPPORTED_PROTOCOL_VERSION: 400,
    METHOD_NOT_FOUND: 404,
}
_LIST_METHODS: Final = frozenset(
    {"tools/list", "resources/list", "resources/templates/list", "prompts/list", "server/discover"}
)


class McpContext(Protocol):
    """What the endpoint needs from the gateway: the snapshot being served and settings."""

    holder: SnapshotHolder
    settings: Settings


class McpEndpoint:
    """Answers MCP requests; one instance per worker process, shared by all requests."""

    def __init__(self, context: McpContext, *, pool: HttpPool | None = None) -> None:
        settings = context.settings
        mcp = settings.gateway.mcp
        self._holder = context.holder
        self._public_url = settings.gateway_public_url.rstrip("/")
        self._origins = OriginPolicy(mcp.allowed_origins, public_url=settings.gateway_public_url)
        self._max_body = settings.gateway.max_body_bytes
        self._list_ttl_ms = mcp.list_ttl_ms
        self._session_seconds = max(1, int(mcp.session_hours * 3600))
        self.pool = pool or HttpPool(connect_timeout=settings.gateway.connect_timeout_seconds)
        self.catalog = Catalog(mcp.tool_separator)
        self.methods = Methods(
            self.pool,
            self.catalog,
            timeouts=Timeouts(
                call=settings.gateway.upstream_timeout_seconds,
                listing=min(10.0, settings.gateway.upstream_timeout_seconds),
            ),
            page_size=mcp.page_size,
        )
        self._codecs: dict[bytes | None, SessionCodec] = {}
        self.live_sessions = LiveSessions()
        metrics.ACTIVE_SESSIONS.set_function(self.live_sessions.count)

    async def close(self) -> None:
        await self.pool.close()

    async def handle(self, request: Request, caller: Caller, scope: McpScope) -> Response:
        """Answer one HTTP request to an MCP endpoint (never raises for bad input)."""
        headers = request.headers
        if not self._origins.allows(headers.get("origin"), headers.get("host")):
            return _error(
                JsonRpcError(FORBIDDEN, "Forbidden: this Origin may not call the MCP endpoint"),
                status=403,
            )
        snapshot = self._holder.current
        if snapshot is None:
            return _error(JsonRpcError(-32000, "The gateway has no configuration yet"), status=503)
        if request.method == "POST":
            return await self._post(request, caller, scope, snapshot)
        if request.method == "DELETE":
            return self._delete(request, caller, scope, snapshot)
        return Response(405, [("allow", "POST, DELETE")])

    # --- POST ---------------------------------------------------------------------------

    async def _post(
        self, request: Request, caller: Caller, scope: McpScope, snapshot: CompiledSnapshot
    ) -> Response:
        headers = request.headers
        if len(request.body) > self._max_body:
            return _error(
                JsonRpcError(
                    INVALID_REQUEST,
                    f"Request too large: the limit is {self._max_body} bytes",
                ),
                status=413,
            )
        accept = headers.get("accept", "")
        json_ok = not accept or _accepts_json(accept)
        sse = not json_ok and "text/event-stream" in accept
        if not json_ok and not sse:
            return _error(
                JsonRpcError(
                    INVALID_REQUEST,
                    "Not acceptable: accept application/json or text/event-stream",
                ),
                status=406,
            )
        try:
            messages, batch = jsonrpc.parse_body(request.body)
        except JsonRpcError as exc:
            return _error(exc, status=exc.http_status)
        header_version = headers.get("mcp-protocol-version")
        first = messages[0]
        modern = header_version == MODERN_VERSION or (
            not batch
            and isinstance(first, Incoming)
            and first.method != "initialize"
            and _meta_version(first.params) is not None
        )
        try:
            view = self._view(snapshot, caller, scope)
        except JsonRpcError as exc:
            return _error(exc, status=exc.http_status, request_id=_id_of(first))
        if modern:
            return await self._modern(request, caller, scope, snapshot, view, messages, batch, sse)
        return await self._legacy(request, caller, scope, snapshot, view, messages, batch, sse)

    def _view(self, snapshot: CompiledSnapshot, caller: Caller, scope: McpScope) -> ToolView:
        if not scope.route:
            return self.catalog.aggregate_view(snapshot, caller.grants)
        api = snapshot.api_by_route.get((scope.tenant or "", scope.api or ""))
        if api is None:
            raise JsonRpcError(
                INVALID_REQUEST, f"No API is published at /mcp/{scope.route}", http_status=404
            )
        grant = caller.grants.get(api.id)
        if grant is None:
            raise JsonRpcError(
                FORBIDDEN,
                f"Forbidden: you have no active subscription to '{api.name}'",
                {"status": 403},
                http_status=403,
            )
        return self.catalog.api_view(snapshot, grant)

    async def _modern(
        self,
        request: Request,
        caller: Caller,
        scope: McpScope,
        snapshot: CompiledSnapshot,
        view: ToolView,
        messages: list[Incoming | JsonRpcError],
        batch: bool,
        sse: bool,
    ) -> Response:
        if batch:
            return _error(
                JsonRpcError(INVALID_REQUEST, "Invalid request: 2026-07-28 does not allow batches"),
                status=400,
            )
        message = messages[0]
        if isinstance(message, JsonRpcError):
            return _error(message, status=400, request_id=message.request_id)
        if message.kind != "request":
            requested = request.headers.get("mcp-protocol-version")
            if requested is not None and requested != MODERN_VERSION:
                return _error(_unsupported(requested), status=400)
            return Response(202)
        try:
            self._check_envelope(request.headers, message)
            call = Call(snapshot, caller, scope, MODERN_VERSION, view)
            result = await self.methods.dispatch(call, message.method, message.params)
        except JsonRpcError as exc:
            return self._failure(exc, _MODERN_STATUS.get(exc.code, 200), message.id, scope, sse)
        if isinstance(result, RawResult):
            raw = result.raw if result.complete else _completed(result.raw)
            return _answer(jsonrpc.result_message(_rid(message), raw), sse)
        result.setdefault("resultType", "complete")
        if message.method in _LIST_METHODS:
            result["ttlMs"] = self._list_ttl_ms
            result["cacheScope"] = "private"
        if message.method == "server/discover":
            result["_meta"] = {SERVER_INFO_META: SERVER_INFO}
        return _answer(jsonrpc.result_message(_rid(message), result), sse)

    def _check_envelope(self, headers: dict[str, str], message: Incoming) -> None:
        """The 2026-07-28 request checks, in the specification's order."""
        meta = message.params.get("_meta")
        if not isinstance(meta, dict):
            raise JsonRpcError(
                INVALID_PARAMS,
                f"Invalid params: params._meta must carry '{PROTOCOL_VERSION_META}' and "
                f"'{CLIENT_CAPABILITIES_META}'",
            )
        missing = [k for k in (PROTOCOL_VERSION_META, CLIENT_CAPABILITIES_META) if k not in meta]
        if missing:
            raise JsonRpcError(
                INVALID_PARAMS, f"Invalid params: params._meta lacks {', '.join(missing)}"
            )
        version = meta[PROTOCOL_VERSION_META]
        if headers.get("mcp-protocol-version") != version:
            raise JsonRpcError(
                HEADER_MISMATCH,
                "Header mismatch: MCP-Protocol-Version must equal the protocol version in "
                "params._meta",
            )
        if headers.get("mcp-method") != message.method:
            raise JsonRpcError(
                HEADER_MISMATCH, "Header mismatch: Mcp-Method must equal the request's method"
            )
        name_key = NAME_BEARING_METHODS.get(message.method)
        if name_key is not None:
            value = message.params.get(name_key)
            if value is not None and _decode_header(headers.get("mcp-name")) != value:
                raise JsonRpcError(
                    HEADER_MISMATCH,
                    f"Header mismatch: Mcp-Name must equal params.{name_key}",
                )
        if not isinstance(version, str):
            raise JsonRpcError(INVALID_PARAMS, "Invalid params: the protocol version must be text")
        if version != MODERN_VERSION:
            raise _unsupported(version)

    async def _legacy(
        self,
        request: Request,
        caller: Caller,
        scope: McpScope,
        snapshot: CompiledSnapshot,
        view: ToolView,
        messages: list[Incoming | JsonRpcError],
        batch: bool,
        sse: bool,
    ) -> Response:
        headers = request.headers
        first = messages[0]
        if not batch and isinstance(first, Incoming) and first.method == "initialize":
            return self._initialize(first, caller, scope, snapshot, sse)
        if batch and any(isinstance(m, Incoming) and m.method == "initialize" for m in messages):
            return _error(
                JsonRpcError(INVALID_REQUEST, "Invalid request: initialize cannot be batched"),
                status=400,
            )
        session_id = headers.get("mcp-session-id")
        if session_id is None:
            return _error(
                JsonRpcError(
                    INVALID_REQUEST,
                    "Bad request: the Mcp-Session-Id header is required; send initialize first, "
                    f"or use protocol version {MODERN_VERSION} without sessions",
                ),
                status=400,
                request_id=_id_of(first),
            )
        session = self._session(snapshot, session_id, caller, scope)
        if session is None:
            return _error(
                JsonRpcError(SESSION_NOT_FOUND, "Session not found: initialize a new session"),
                status=404,
                request_id=_id_of(first),
            )
        header_version = headers.get("mcp-protocol-version")
        if header_version is not None and header_version != session.version:
            return _error(
                JsonRpcError(
                    INVALID_REQUEST,
                    f"Bad request: MCP-Protocol-Version {header_version!r} does not match the "
                    f"session's {session.version}",
                ),
                status=400,
                request_id=_id_of(first),
            )
        if batch and session.version != BATCH_VERSION:
            return _error(
                JsonRpcError(
                    INVALID_REQUEST,
                    f"Invalid request: protocol version {session.version} does not allow batches",
                ),
                status=400,
            )
        call = Call(snapshot, caller, scope, session.version, view)
        answers: list[dict[str, Any]] = []
        forbidden: InsufficientScope | None = None
        last_error: JsonRpcError | None = None
        for message in messages:
            if isinstance(message, JsonRpcError):
                answers.append(jsonrpc.error_message(message.request_id, message))
                continue
            if message.kind != "request":
                continue
            try:
                result = await self.methods.dispatch(call, message.method, message.params)
            except JsonRpcError as exc:
                if isinstance(exc, InsufficientScope):
                    forbidden = exc
                last_error = exc
                answers.append(jsonrpc.error_message(message.id, exc))
                continue
            if isinstance(result, RawResult):
                answers.append(jsonrpc.result_message(_rid(message), result.raw))
            else:
                answers.append(jsonrpc.result_message(_rid(message), result))
        if not answers:
            return Response(202)
        if not batch and forbidden is not None:
            return self._failure(forbidden, 403, _id_of(first), scope, sse)
        response = _answer(answers if batch else answers[0], sse)
        if not batch and last_error is not None:
            response.headers.extend(last_error.headers)
        return response

    def _initialize(
        self,
        message: Incoming,
        caller: Caller,
        scope: McpScope,
        snapshot: CompiledSnapshot,
        sse: bool,
    ) -> Response:
        if message.kind != "request":
            return _error(JsonRpcError(INVALID_REQUEST, "initialize must be a request"), status=400)
        version = negotiate_legacy(message.params.get("protocolVersion"))
        codec = self._codec(snapshot)
        session_id = codec.issue(version=version, subject=caller.subject, route=scope.route)
        issued = codec.check(session_id)
        if issued is not None:
            self.live_sessions.opened(issued.nonce, issued.expires_at)
        result = {
            "protocolVersion": version,
            "capabilities": CAPABILITIES,
            "serverInfo": SERVER_INFO,
            "instructions": INSTRUCTIONS,
        }
        response = _answer(jsonrpc.result_message(_rid(message), result), sse)
        response.headers.append(("mcp-session-id", session_id))
        return response

    # --- sessions -------------------------------------------------------------------------

    def _delete(
        self, request: Request, caller: Caller, scope: McpScope, snapshot: CompiledSnapshot
    ) -> Response:
        session_id = request.headers.get("mcp-session-id")
        if session_id is None:
            return _error(
                JsonRpcError(INVALID_REQUEST, "Bad request: the Mcp-Session-Id header is required"),
                status=400,
            )
        session = self._session(snapshot, session_id, caller, scope)
        if session is None:
            return _error(JsonRpcError(SESSION_NOT_FOUND, "Session not found"), status=404)
        self._codec(snapshot).end(session)
        self.live_sessions.ended(session.nonce)
        return Response(204)

    def _session(
        self, snapshot: CompiledSnapshot, session_id: str, caller: Caller, scope: McpScope
    ) -> Session | None:
        session = self._codec(snapshot).check(session_id)
        if (
            session is None
            or session.subject != caller.subject
            or session.route != scope.route
            or session.version not in LEGACY_VERSIONS
        ):
            return None
        return session

    def _codec(self, snapshot: CompiledSnapshot) -> SessionCodec:
        secret = snapshot.session_secret
        codec = self._codecs.get(secret)
        if codec is None:
            if secret is None:
                # Without a shared secret in the snapshot, sessions hold in this process only.
                _log.warning("the snapshot has no session secret; MCP sessions are per process")
                key = os.urandom(32)
            else:
                key = secret
            codec = SessionCodec(key, lifetime_seconds=self._session_seconds)
            self._codecs[secret] = codec
        return codec

    # --- answers --------------------------------------------------------------------------

    def _failure(
        self,
        exc: JsonRpcError,
        status: int,
        request_id: jsonrpc.RequestId | None,
        scope: McpScope,
        sse: bool,
    ) -> Response:
        if isinstance(exc, InsufficientScope):
            suffix = f"/mcp/{scope.route}" if scope.route else ""
            metadata = f"{self._public_url}/.well-known/oauth-protected-resource{suffix}"
            response = _error(exc, status=403, request_id=request_id)
            response.headers.append(
                (
                    "www-authenticate",
                    f'Bearer error="insufficient_scope", scope="{exc.scope}", '
                    f'resource_metadata="{metadata}"',
                )
            )
            return response
        if status != 200:
            return _error(exc, status=status, request_id=request_id)
        response = _answer(jsonrpc.error_message(request_id, exc), sse)
        response.headers.extend(exc.headers)
        return response


def _unsupported(requested: str) -> JsonRpcError:
    return JsonRpcError(
        UNSUPPORTED_PROTOCOL_VERSION,
        "Unsupported protocol version",
        {"supported": [MODERN_VERSION], "requested": requested},
    )


def _completed(raw: msgspec.Raw) -> msgspec.Raw:
    """`raw` (an encoded JSON object) with `"resultType":"complete"` as its first member."""
    data = bytes(raw).strip()
    inner = data[1:].lstrip()
    separator = b"" if inner.startswith(b"}") else b","
    return msgspec.Raw(b'{"resultType":"complete"' + separator + inner)


def _accepts_json(accept: str) -> bool:
    return "application/json" in accept or "*/*" in accept or "application/*" in accept


def _meta_version(params: dict[str, Any]) -> object:
    meta = params.get("_meta")
    return meta.get(PROTOCOL_VERSION_META) if isinstance(meta, dict) else None


def _decode_header(value: str | None) -> str | None:
    """An `Mcp-Name` value, with the `=?base64?…?=` form for non-ASCII names decoded."""
    if value is None or not (value.startswith("=?base64?") and value.endswith("?=")):
        return value
    try:
        return base64.b64decode(value[9:-2], validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _id_of(message: Incoming | JsonRpcError) -> jsonrpc.RequestId | None:
    return message.id if isinstance(message, Incoming) else message.request_id


def _rid(message: Incoming) -> jsonrpc.RequestId:
    assert message.id is not None
    return message.id


def _answer(message: Any, sse: bool) -> Response:
    body = jsonrpc.encode(message)
    if sse:
        return Response(200, list(_SSE_HEADERS), sse_event(body))
    return Response(200, [_JSON], body)


def _error(
    exc: JsonRpcError, *, status: int, request_id: jsonrpc.RequestId | None = None
) -> Response:
    headers = [_JSON, *exc.headers]
    return Response(status, headers, jsonrpc.encode(jsonrpc.error_message(request_id, exc)))
