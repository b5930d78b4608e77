"""The MCP methods the gateway answers, the same for every protocol version.

Each handler takes the `Call` (who, where, which snapshot, which protocol) and the request
params, and returns the result object or raises `JsonRpcError`. Version differences
(`resultType`, cache hints) are applied by the caller of `dispatch`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from stoa.gateway import ratelimit, usage
from stoa.gateway.auth.caller import Caller
from stoa.gateway.mcp.catalog import Catalog, ToolView, split_prefixed
from stoa.gateway.mcp.jsonrpc import (
    FORBIDDEN,
    INVALID_PARAMS,
    METHOD_NOT_FOUND,
    RATE_LIMITED,
    UPSTREAM_ERROR,
    JsonRpcError,
)
from stoa.gateway.mcp.rest_call import build_call, tool_result
from stoa.gateway.mcp.upstream.http1 import (
    HttpPool,
    UpstreamTimeout,
    UpstreamTooLarge,
    UpstreamUnavailable,
)
from stoa.gateway.mcp.upstream.mcp_client import McpUpstreams, UpstreamFailure, UpstreamRpcError
from stoa.gateway.mcp.versions import MODERN_VERSION
from stoa.gateway.snapshot.compiled import CompiledSnapshot, Grant
from stoa.gateway.telemetry import metrics

_log = logging.getLogger("stoa.gateway.mcp")

SERVER_INFO: Final = {"name": "stoa-gateway", "title": "STOA gateway", "version": "0.1.0"}
CAPABILITIES: Final = {
    "tools": {"listChanged": False},
    "resources": {},
    "prompts": {},
}
INSTRUCTIONS: Final = (
    "Tools, resources and prompts of the APIs your STOA subscriptions cover, named "
    "<api>__<name> on the aggregate endpoint."
)
READ_SCOPE: Final = "stoa:read"
WRITE_SCOPE: Final = "stoa:write"
_MAX_UPSTREAM_PAGES: Final = 20


@dataclass(frozen=True, slots=True)
class McpScope:
    """Which endpoint was called: the aggregate `/mcp` (both None) or `/mcp/{tenant}/{api}`."""

    tenant: str | None = None
    api: str | None = None

    @property
    def route(self) -> str:
        return "" if self.tenant is None or self.api is None else f"{self.tenant}/{self.api}"


AGGREGATE: Final = McpScope()


@dataclass(slots=True)
class Call:
    """One JSON-RPC request in context."""

    snapshot: CompiledSnapshot
    caller: Caller
    scope: McpScope
    version: str
    view: ToolView

    @property
    def modern(self) -> bool:
        return self.version == MODERN_VERSION


class InsufficientScope(JsonRpcError):
    """The token lacks `scope`; answered with HTTP 403 and `WWW-Authenticate`."""

    def __init__(self, scope: str) -> None:
        super().__init__(
            FORBIDDEN,
            f"Forbidden: this request needs the scope {scope}",
            {"status": 403, "error": "insufficient_scope", "scope": scope},
            http_status=403,
        )
        self.scope = scope


@dataclass(frozen=True, slots=True)
class RawResult:
    """A result passed on as the upstream encoded it (no decode, no re-encode).

    `complete` says whether it already carries `resultType` (upstreams speaking 2026-07-28
    must send it); otherwise the endpoint adds it for 2026-07-28 clients.
    """

    raw: msgspec.Raw
    complete: bool


Result = dict[str, Any] | RawResult


@dataclass(slots=True)
class Timeouts:
    """Seconds an upstream has: for a call, read or prompt; and per page of a listing
    (shorter, since one slow upstream holds up the aggregate list)."""

    call: float = 30.0
    listing: float = 10.0


class Methods:
    """The handlers, sharing the upstream clients and the per-snapshot catalog."""

    def __init__(
        self,
        pool: HttpPool,
        catalog: Catalog,
        *,
        timeouts: Timeouts,
        page_size: int,
        max_response_bytes: int = 10_000_000,
    ) -> None:
        self.pool = pool
        self.catalog = catalog
        self.upstreams = McpUpstreams(pool, max_body=max_response_bytes)
        self.timeouts = timeouts
        self.page_size = page_size
        self.max_response_bytes = max_response_bytes
        self.table: dict[str, Callable[[Call, dict[str, Any]], Awaitable[Result]]] = {
            "ping": self.ping,
            "server/discover": self.discover,
            "tools/list": self.tools_list,
            "tools/call": self.tools_call,
            "resources/list": self.resources_list,
            "resources/templates/list": self.templates_list,
            "resources/read": self.resources_read,
            "prompts/list": self.prompts_list,
            "prompts/get": self.prompts_get,
        }

    async def dispatch(self, call: Call, method: str, params: dict[str, Any]) -> Result:
        handler = self.table.get(method)
        if handler is None:
            raise JsonRpcError(METHOD_NOT_FOUND, f"Method not found: {method}", http_status=404)
        return await handler(call, params)

    # --- plain methods ----------------------------------------------------------------

    async def ping(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        return {}

    async def discover(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "supportedVersions": [MODERN_VERSION],
            "capabilities": CAPABILITIES,
            "instructions": INSTRUCTIONS,
        }

    async def tools_list(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        _require(call.caller, READ_SCOPE)
        cursor = params.get("cursor")
        if cursor is not None and not isinstance(cursor, str):
            raise _invalid("`cursor` must be a string")
        tools, next_cursor = call.view.page(cursor, self.page_size)
        result: dict[str, Any] = {"tools": tools}
        if next_cursor is not None:
            result["nextCursor"] = next_cursor
        return result

    # --- tools/call -------------------------------------------------------------------

    async def tools_call(self, call: Call, params: dict[str, Any]) -> Result:
        name = params.get("name")
        if not isinstance(name, str):
            raise _invalid("`name` must be a string")
        arguments = params.get("arguments")
        if arguments is None:
            arguments = {}
        elif not isinstance(arguments, dict):
            raise _invalid("`arguments` must be an object")
        route = call.view.routes.get(name)
        if route is None:
            raise _invalid(f"Unknown tool: {name}")
        tool, grant = route.tool, route.grant
        _require(call.caller, READ_SCOPE if tool.annotations.get("readOnlyHint") else WRITE_SCOPE)
        started = time.perf_counter()
        # Local counters answer without awaiting, which spares two coroutine frames per
        # call; only a Redis-backed limit goes through the awaited path.
        admission = ratelimit.limiter.admit_local(grant)
        if admission is None:
            admission = await ratelimit.admit(grant)
        elif not admission.allowed:
            metrics.RATELIMIT_REJECTIONS.labels(grant.api.name).inc()
        if not admission.allowed:
            _record(grant, tool.name, 429, started, 0, 0)
            retry_after = max(1, round(admission.retry_after + 0.499))
            raise JsonRpcError(
                RATE_LIMITED,
                f"Rate limit exceeded for '{grant.api.name}': retry in {retry_after} s",
                {
                    "status": 429,
                    "retryAfter": retry_after,
                    "limit": admission.limit,
                    "remaining": admission.remaining,
                    "reset": admission.reset,
                },
                headers=(("Retry-After", str(retry_after)),),
            )
        api = grant.api
        upstream_started = time.perf_counter()
        if api.kind == "mcp":
            result, status, sent, received = await self._call_mcp(grant, tool.name, arguments)
        else:
            result, status, sent, received = await self._call_rest(grant, tool, arguments)
        metrics.observe_upstream("mcp", time.perf_counter() - upstream_started)
        _record(grant, tool.name, status, started, sent, received)
        return result

    async def _call_mcp(
        self, grant: Grant, tool: str, arguments: dict[str, Any]
    ) -> tuple[Result, int, int, int]:
        try:
            server, raw = await self.upstreams.request_raw(
                grant.api,
                "tools/call",
                {"name": tool, "arguments": arguments},
                deadline=self.timeouts.call,
            )
        except UpstreamFailure as exc:
            metrics.UPSTREAM_FAILURES.labels("timeout" if exc.timeout else "mcp").inc()
            return _tool_error(exc.message), 504 if exc.timeout else 502, 0, 0
        except UpstreamRpcError as exc:
            raise _passed_on(exc) from None
        return RawResult(raw, server.era == "modern"), 200, 0, len(raw)

    async def _call_rest(
        self, grant: Grant, tool: Any, arguments: dict[str, Any]
    ) -> tuple[dict[str, Any], int, int, int]:
        api = grant.api
        if tool.binding is None or api.upstream is None:
            return _tool_error(f"the tool '{tool.name}' has no REST binding"), 502, 0, 0
        http = build_call(
            tool.binding, arguments, base_path=api.upstream.base_path, auth=api.upstream_auth
        )
        try:
            response = await self.pool.request(
                api.upstream,
                http.method,
                http.target,
                http.headers,
                http.body,
                deadline=self.timeouts.call,
                max_body=self.max_response_bytes,
            )
        except UpstreamTimeout:
            metrics.UPSTREAM_FAILURES.labels("timeout").inc()
            message = f"the API '{api.name}' did not answer within {self.timeouts.call:g} s"
            return _tool_error(message), 504, len(http.body), 0
        except (UpstreamUnavailable, UpstreamTooLarge) as exc:
            metrics.UPSTREAM_FAILURES.labels("connect").inc()
            return _tool_error(f"the API '{api.name}' failed: {exc}"), 502, len(http.body), 0
        result = tool_result(response.status, response.content_type(), response.body)
        return result, response.status, len(http.body), len(response.body)

    # --- resources and prompts ----------------------------------------------------------

    async def resources_list(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        items = await self._gather(call, "resources/list", "resources")
        return {"resources": [_renamed(item, prefix, self._sep, "uri") for prefix, item in items]}

    async def templates_list(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        items = await self._gather(call, "resources/templates/list", "resourceTemplates")
        return {
            "resourceTemplates": [
                _renamed(item, prefix, self._sep, "uriTemplate") for prefix, item in items
            ]
        }

    async def prompts_list(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        items = await self._gather(call, "prompts/list", "prompts")
        return {"prompts": [_renamed(item, prefix, self._sep, None) for prefix, item in items]}

    async def resources_read(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        _require(call.caller, READ_SCOPE)
        uri = params.get("uri")
        if not isinstance(uri, str):
            raise _invalid("`uri` must be a string")
        prefix, upstream_uri = self._owner(call, uri, "+")
        grant = self._mcp_grant(call, prefix, f"Unknown resource: {uri}")
        result = await self._upstream(grant, "resources/read", {"uri": upstream_uri})
        if prefix:
            contents = result.get("contents")
            if isinstance(contents, list):
                result["contents"] = [
                    {**item, "uri": f"{prefix}+{item['uri']}"}
                    if isinstance(item, dict) and isinstance(item.get("uri"), str)
                    else item
                    for item in contents
                ]
        return result

    async def prompts_get(self, call: Call, params: dict[str, Any]) -> dict[str, Any]:
        _require(call.caller, READ_SCOPE)
        name = params.get("name")
        if not isinstance(name, str):
            raise _invalid("`name` must be a string")
        arguments = params.get("arguments")
        prefix, upstream_name = self._owner(call, name, self._sep)
        grant = self._mcp_grant(call, prefix, f"Unknown prompt: {name}")
        upstream_params: dict[str, Any] = {"name": upstream_name}
        if arguments is not None:
            upstream_params["arguments"] = arguments
        return await self._upstream(grant, "prompts/get", upstream_params)

    @property
    def _sep(self) -> str:
        return self.catalog.separator

    def _owner(self, call: Call, value: str, separator: str) -> tuple[str, str]:
        if call.scope.route:
            return "", value
        split = split_prefixed(value, separator)
        if split is None:
            raise _invalid(f"'{value}' names no API: expected <api>{separator}<name>")
        return split

    def _mcp_grant(self, call: Call, prefix: str, unknown: str) -> Grant:
        grant = call.view.grant_by_prefix.get(prefix)
        if grant is None or grant.api.kind != "mcp":
            raise _invalid(unknown)
        return grant

    async def _upstream(
        self, grant: Grant, method: str, params: dict[str, Any], *, listing: bool = False
    ) -> dict[str, Any]:
        deadline = self.timeouts.listing if listing else self.timeouts.call
        try:
            return await self.upstreams.request(grant.api, method, params, deadline=deadline)
        except UpstreamFailure as exc:
            raise JsonRpcError(UPSTREAM_ERROR, f"Upstream error: {exc.message}") from None
        except UpstreamRpcError as exc:
            raise _passed_on(exc) from None

    async def _gather(self, call: Call, method: str, key: str) -> list[tuple[str, dict[str, Any]]]:
        """Every item of `method` from the caller's MCP upstreams, with their prefix.

        On the aggregate endpoint an upstream that fails is left out (and logged), so one
        broken server does not hide the others; on a per-API endpoint its error is the
        answer.
        """
        _require(call.caller, READ_SCOPE)
        grants = [(p, g) for p, g in call.view.grant_by_prefix.items() if g.api.kind == "mcp"]
        outcomes = await asyncio.gather(
            *(self._all_pages(grant, method, key) for _, grant in grants),
            return_exceptions=True,
        )
        items: list[tuple[str, dict[str, Any]]] = []
        for (prefix, grant), outcome in zip(grants, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if call.scope.route:
                    raise outcome
                _log.warning(
                    "upstream listing failed", extra={"api": grant.api.name, "method": method}
                )
                continue
            items.extend((prefix, item) for item in outcome)
        return items

    async def _all_pages(self, grant: Grant, method: str, key: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(_MAX_UPSTREAM_PAGES):
            params: dict[str, Any] = {} if cursor is None else {"cursor": cursor}
            result = await self._upstream(grant, method, params, listing=True)
            page = result.get(key)
            if isinstance(page, list):
                found.extend(item for item in page if isinstance(item, dict))
            next_cursor = result.get("nextCursor")
            if not isinstance(next_cursor, str) or not next_cursor:
                break
            cursor = next_cursor
        return found


def _require(caller: Caller, scope: str) -> None:
    if caller.scopes is not None and scope not in caller.scopes:
        raise InsufficientScope(scope)


def _invalid(why: str) -> JsonRpcError:
    return JsonRpcError(INVALID_PARAMS, f"Invalid params: {why}", http_status=400)


def _tool_error(message: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": message}], "isError": True}


def _passed_on(exc: UpstreamRpcError) -> JsonRpcError:
    code = exc.error.get("code")
    message = exc.error.get("message")
    return JsonRpcError(
        code if isinstance(code, int) else UPSTREAM_ERROR,
        message if isinstance(message, str) else "Upstream error",
        exc.error.get("data"),
    )


def _renamed(
    item: dict[str, Any], prefix: str, separator: str, uri_key: str | None
) -> dict[str, Any]:
    if not prefix:
        return item
    renamed = dict(item)
    if isinstance(item.get("name"), str):
        renamed["name"] = f"{prefix}{separator}{item['name']}"
    if uri_key is not None and isinstance(item.get(uri_key), str):
        renamed[uri_key] = f"{prefix}+{item[uri_key]}"
    return renamed


def _record(grant: Grant, tool: str, status: int, started: float, sent: int, got: int) -> None:
    """The call's usage event, and its count in `stoa_gateway_requests` under the kind
    `mcp-tool` (by API and tool; the HTTP request itself is counted as kind `mcp`)."""
    api = grant.api
    metrics.count_request("mcp-tool", api.tenant, api.name, tool, status)
    usage.record(
        usage.UsageEvent(
            at=time.time(),
            tenant_id=api.tenant_id,
            application_id=grant.application_id,
            subscription_id=grant.subscription_id,
            api_id=api.id,
            route=tool,
            status=status,
            latency_ms=(time.perf_counter() - started) * 1000.0,
            request_bytes=sent,
            response_bytes=got,
            tenant=api.tenant,
            api=api.name,
        )
    )
