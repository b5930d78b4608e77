"""Routing and the checks every call goes through, for one worker process.

`/proxy/...` runs from callbacks end to end when it can: key check, policies, local rate
limit and a pooled upstream connection need no `await`. A bearer token (key fetch), a
Redis-backed limit or a new upstream connection move the rest of that request into one
task. `/mcp` is handed to the MCP endpoint after authentication.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Final, Protocol

import msgspec
from prometheus_client import CONTENT_TYPE_LATEST

from stoa.gateway import ratelimit
from stoa.gateway.auth.api_key import KeyRejected, caller_for_key, presented_key
from stoa.gateway.auth.bearer import BearerAuthenticator
from stoa.gateway.auth.caller import Caller
from stoa.gateway.auth.challenge import READ_SCOPE, WRITE_SCOPE, insufficient_scope, unauthorized
from stoa.gateway.context import GatewayContext
from stoa.gateway.http.metadata import WELL_KNOWN, metadata_response, resource_for
from stoa.gateway.http.problem import problem
from stoa.gateway.http.response import Response
from stoa.gateway.http.server import HttpConnection, Incoming
from stoa.gateway.mcp.endpoint import AGGREGATE, McpEndpoint, McpScope
from stoa.gateway.proxy.headers import upstream_head
from stoa.gateway.proxy.metered import MeteredRelay
from stoa.gateway.ratelimit.admission import Admission
from stoa.gateway.snapshot.compiled import CompiledApi, CompiledSnapshot, Grant
from stoa.gateway.telemetry import metrics
from stoa.gateway.telemetry.access_log import AccessLog
from stoa.gateway.telemetry.flush import flush_metrics
from stoa.gateway.telemetry.metrics import RequestStats
from stoa.kit.errors import Unauthenticated

_log = logging.getLogger("stoa.gateway")
# Bodies larger than this (or of unknown length) go upstream as they arrive; smaller ones
# are read whole first, which is cheaper and lets a failed connection be retried.
STREAM_BODIES_OVER: Final = 256 * 1024
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_JSON: Final = ("content-type", "application/json")


class MetricsSource(Protocol):
    def __call__(self) -> bytes: ...


class GatewayHandler:
    """The `Handler` of every connection of a worker."""

    def __init__(
        self,
        context: GatewayContext,
        *,
        bearer: BearerAuthenticator | None,
        access_log: AccessLog,
        metrics_source: MetricsSource,
        mcp: McpEndpoint | None = None,
    ) -> None:
        settings = context.settings
        self._context = context
        self._holder = context.holder
        self._pool = context.upstreams
        self._bearer = bearer
        self._log = access_log
        self._metrics_source = metrics_source
        self._mcp = mcp
        self._public_url = context.public_url
        self._authorization_server = settings.issuer.rstrip("/")
        self._max_body = settings.gateway.max_body_bytes
        self._timeout = settings.gateway.upstream_timeout_seconds
        self._retries = settings.gateway.retries
        self._root_metadata = f"{self._public_url}{WELL_KNOWN}"

    # Handler protocol
    def body_limit(self, raw_path: bytes) -> int:
        if raw_path.startswith(b"/proxy/"):
            snapshot = self._holder.current
            if snapshot is not None:
                parts = raw_path.split(b"/", 4)
                if len(parts) >= 4:
                    api = snapshot.api_at(parts[2], parts[3])
                    if api is not None and api.policies.max_body_bytes is not None:
                        return min(self._max_body, api.policies.max_body_bytes)
        return self._max_body

    def streams_body(self, raw_path: bytes, headers: dict[str, str]) -> bool:
        if not raw_path.startswith(b"/proxy/"):
            return False
        declared = headers.get("content-length")
        if declared is None:
            return "transfer-encoding" in headers
        return declared.isdigit() and int(declared) > STREAM_BODIES_OVER

    def handle(self, connection: HttpConnection, incoming: Incoming) -> None:
        path = incoming.raw_path
        if path.startswith(b"/proxy/"):
            self._proxy(connection, incoming)
        elif path == b"/mcp" or path.startswith(b"/mcp/"):
            connection.spawn(self._mcp_call(connection, incoming))
        elif path == b"/healthz":
            self._answer(connection, incoming, Response(200, [_JSON], b'{"status":"ok"}'))
        elif path == b"/readyz":
            self._answer(connection, incoming, self._readiness())
        elif path == b"/metrics":
            flush_metrics()
            body = self._metrics_source()
            self._answer(
                connection, incoming, Response(200, [("content-type", CONTENT_TYPE_LATEST)], body)
            )
        elif path.startswith(WELL_KNOWN.encode()):
            resource = resource_for(self._public_url, incoming.path)
            if resource is None:
                self._answer(connection, incoming, problem(404, "not-found", "no such metadata"))
            else:
                self._answer(
                    connection, incoming, metadata_response(resource, self._authorization_server)
                )
        else:
            self._answer(
                connection,
                incoming,
                problem(
                    404,
                    "not-found",
                    f"nothing is served at {incoming.path}; the gateway serves /mcp, "
                    "/mcp/{tenant}/{api} and /proxy/{tenant}/{api}/{path}",
                ),
            )

    def _readiness(self) -> Response:
        snapshot = self._holder.current
        if snapshot is None:
            body = msgspec.json.encode(
                {"status": "no snapshot loaded", "reason": self._holder.waiting_reason}
            )
            return Response(503, [_JSON], body)
        body = msgspec.json.encode(
            {"status": "ready", "snapshot": snapshot.hash, "generated_at": snapshot.generated_at}
        )
        return Response(200, [_JSON], body)

    # answers
    def _answer(
        self,
        connection: HttpConnection,
        incoming: Incoming,
        response: Response,
        *,
        kind: str = "other",
        api: CompiledApi | None = None,
        subject: str = "",
    ) -> None:
        if not any(name == "x-request-id" for name, _ in response.headers):
            response.headers.append(("x-request-id", incoming.request_id))
        if api is None:
            stats = metrics.stats_for(kind)
        elif kind == "proxy":
            stats = api.proxy_stats
        else:
            stats = metrics.stats_for(kind, api.tenant, api.name)
        self.observe(incoming, response.status, stats, subject, len(response.body), -1.0)
        connection.respond(incoming, response)

    def observe(
        self,
        incoming: Incoming,
        status: int,
        stats: RequestStats,
        subject: str,
        response_bytes: int,
        upstream_seconds: float,
    ) -> None:
        """Count an answer and log it. `upstream_seconds` < 0: no upstream was called."""
        elapsed = time.perf_counter() - incoming.started
        stats.observe(status, elapsed, upstream_seconds)
        log = self._log
        if log.enabled:
            log.write(
                incoming.request_id,
                incoming.client_ip,
                incoming.method,
                incoming.path,
                status,
                elapsed,
                stats.labels,
                subject,
                upstream_seconds,
                response_bytes,
            )

    # /proxy
    def _proxy(self, connection: HttpConnection, incoming: Incoming) -> None:
        snapshot = self._holder.current
        if snapshot is None:
            self._answer(
                connection,
                incoming,
                problem(503, "not-ready", "the gateway has no configuration yet"),
                kind="proxy",
            )
            return
        parts = incoming.raw_path.split(b"/", 4)
        api = None
        if len(parts) >= 4 and parts[2] and parts[3]:
            api = snapshot.api_at(parts[2], parts[3])
        if api is None or api.upstream is None:
            self._answer(
                connection,
                incoming,
                problem(
                    404,
                    "not-found",
                    "no API is published at this path; use /proxy/{tenant}/{api}/{path}",
                ),
                kind="proxy",
            )
            return
        rest = b"/" + parts[4] if len(parts) == 5 else b"/"
        policies = api.policies
        if policies.ip_filters and not policies.admits_ip(incoming.client_ip):
            self._answer(
                connection,
                incoming,
                problem(403, "ip-refused", "calls from your address are not allowed"),
                kind="proxy",
                api=api,
            )
            return
        cors = policies.cors
        origin = incoming.headers.get("origin")
        if (
            cors is not None
            and origin is not None
            and incoming.method == "OPTIONS"
            and "access-control-request-method" in incoming.headers
        ):
            if cors.allows(origin):
                self._answer(
                    connection,
                    incoming,
                    Response(204, cors.preflight_headers(origin)),
                    kind="proxy",
                    api=api,
                )
            else:
                self._answer(
                    connection,
                    incoming,
                    problem(403, "origin-refused", f"the origin {origin} may not call this API"),
                    kind="proxy",
                    api=api,
                )
            return
        if incoming.too_large:
            self._too_large(connection, incoming, api, policies.max_body_bytes)
            return
        key = presented_key(incoming.headers)
        if key is not None:
            try:
                caller = caller_for_key(snapshot, key, time.time())
            except KeyRejected as rejected:
                self._answer(
                    connection,
                    incoming,
                    unauthorized(str(rejected), self._root_metadata, invalid_token=True),
                    kind="proxy",
                    api=api,
                )
                return
            self._proxy_as(connection, incoming, snapshot, api, caller, rest)
            return
        authorization = incoming.headers.get("authorization", "")
        if authorization[:7].lower() == "bearer " and self._bearer is not None:
            connection.spawn(
                self._proxy_with_token(
                    connection, incoming, snapshot, api, authorization[7:].strip(), rest
                )
            )
            return
        self._answer(
            connection,
            incoming,
            unauthorized(
                "send an API key (Authorization: Bearer stoa_sk_... or X-API-Key) "
                "or an access token",
                self._root_metadata,
                invalid_token=False,
            ),
            kind="proxy",
            api=api,
        )

    async def _proxy_with_token(
        self,
        connection: HttpConnection,
        incoming: Incoming,
        snapshot: CompiledSnapshot,
        api: CompiledApi,
        token: str,
        rest: bytes,
    ) -> None:
        assert self._bearer is not None
        try:
            caller = await self._bearer.caller(snapshot, token)
        except Unauthenticated as exc:
            self._answer(
                connection,
                incoming,
                unauthorized(exc.detail, self._root_metadata, invalid_token=True),
                kind="proxy",
                api=api,
            )
            return
        self._proxy_as(connection, incoming, snapshot, api, caller, rest)

    def _proxy_as(
        self,
        connection: HttpConnection,
        incoming: Incoming,
        snapshot: CompiledSnapshot,
        api: CompiledApi,
        caller: Caller,
        rest: bytes,
    ) -> None:
        grant = caller.grants.get(api.id)
        if grant is None:
            self._answer(
                connection,
                incoming,
                problem(
                    403,
                    "not-subscribed",
                    f"your application has no active subscription to {api.tenant}/{api.name}; "
                    "subscribe to it in the portal",
                ),
                kind="proxy",
                api=api,
                subject=caller.subject,
            )
            return
        if caller.scopes is not None:
            needed = READ_SCOPE if incoming.method in _SAFE_METHODS else WRITE_SCOPE
            if needed not in caller.scopes:
                self._answer(
                    connection,
                    incoming,
                    insufficient_scope(needed, self._root_metadata),
                    kind="proxy",
                    api=api,
                    subject=caller.subject,
                )
                return
        policies = grant.policies
        if policies is not api.policies:
            if policies.ip_filters and not policies.admits_ip(incoming.client_ip):
                self._answer(
                    connection,
                    incoming,
                    problem(403, "ip-refused", "calls from your address are not allowed"),
                    kind="proxy",
                    api=api,
                    subject=caller.subject,
                )
                return
            limit = policies.max_body_bytes
            declared = incoming.headers.get("content-length", "")
            size = int(declared) if declared.isdigit() else len(incoming.body)
            if limit is not None and size > limit:
                self._too_large(connection, incoming, api, limit)
                return
        admission = ratelimit.limiter.admit_local(grant)
        if admission is None:
            connection.spawn(self._proxy_admit(connection, incoming, api, grant, caller, rest))
            return
        self._proxy_admitted(connection, incoming, api, grant, caller, rest, admission)

    async def _proxy_admit(
        self,
        connection: HttpConnection,
        incoming: Incoming,
        api: CompiledApi,
        grant: Grant,
        caller: Caller,
        rest: bytes,
    ) -> None:
        admission = await ratelimit.limiter.admit(grant)
        self._proxy_admitted(connection, incoming, api, grant, caller, rest, admission)

    def _proxy_admitted(
        self,
        connection: HttpConnection,
        incoming: Incoming,
        api: CompiledApi,
        grant: Grant,
        caller: Caller,
        rest: bytes,
        admission: Admission,
    ) -> None:
        if not admission.allowed:
            metrics.RATELIMIT_REJECTIONS.labels(api.name).inc()
            limit_headers = _ratelimit_headers(admission)
            retry = str(max(1, math.ceil(admission.retry_after)))
            self._answer(
                connection,
                incoming,
                problem(
                    429,
                    "rate-limited",
                    f"the plan's rate limit or quota is used up; retry in {retry} s",
                    headers=[("retry-after", retry), *limit_headers],
                    request_id=incoming.request_id,
                ),
                kind="proxy",
                api=api,
                subject=caller.subject,
            )
            return
        policies = grant.policies
        # The headers the gateway adds to the upstream's answer, formatted straight into
        # bytes: one `%` per call instead of a list of pairs joined and encoded.
        extra_head = b"x-request-id: %b\r\n" % incoming.request_id.encode("latin-1")
        if admission.limit is not None and admission.remaining is not None:
            extra_head += _RATELIMIT_HEAD % (
                admission.limit,
                max(0, admission.remaining),
                max(0, math.ceil(admission.reset or 0.0)),
            )
        cors = policies.cors
        if cors is not None:
            origin = incoming.headers.get("origin")
            if origin is not None and cors.allows(origin):
                extra_head += "".join(
                    f"{name}: {value}\r\n" for name, value in cors.response_headers(origin)
                ).encode("latin-1")
        body = incoming.body
        stream = incoming.body_stream
        declared = incoming.headers.get("content-length", "")
        head = upstream_head(
            api,
            policies,
            incoming.method,
            rest,
            incoming.query,
            incoming.raw_headers,
            # A streamed body keeps its declared length, or is sent chunked.
            len(body) if stream is None else (int(declared) if declared.isdigit() else None),
            incoming.request_id,
            incoming.client_ip,
        )
        assert api.upstream is not None
        MeteredRelay(
            self,
            api,
            grant,
            caller.subject,
            rest,
            connection,
            incoming,
            self._pool,
            api.upstream,
            head + body if body else head,
            extra_head,
            self._timeout,
            self._retries,
            body_stream=stream,
            body_limit=policies.max_body_bytes,
        ).start()

    def _too_large(
        self,
        connection: HttpConnection,
        incoming: Incoming,
        api: CompiledApi | None,
        limit: int | None,
    ) -> None:
        allowed = limit if limit is not None else self._max_body
        self._answer(
            connection,
            incoming,
            problem(
                413,
                "body-too-large",
                f"the request body is larger than the {allowed} bytes allowed",
            ),
            kind="proxy" if api is not None else "other",
            api=api,
        )

    # /mcp
    async def _mcp_call(self, connection: HttpConnection, incoming: Incoming) -> None:
        mcp = self._mcp
        path = incoming.path
        parts = path.split("/")
        if mcp is None or not (path == "/mcp" or (len(parts) == 4 and parts[2] and parts[3])):
            self._answer(
                connection,
                incoming,
                problem(404, "not-found", f"no MCP endpoint at {path}"),
                kind="mcp",
            )
            return
        scope = AGGREGATE if path == "/mcp" else McpScope(tenant=parts[2], api=parts[3])
        metadata = self._context.resource_metadata_url(path)
        if incoming.too_large:
            self._answer(
                connection,
                incoming,
                problem(
                    413,
                    "body-too-large",
                    f"the request body is larger than the {self._max_body} bytes allowed",
                ),
                kind="mcp",
            )
            return
        snapshot = self._holder.current
        if snapshot is None:
            self._answer(
                connection,
                incoming,
                problem(503, "not-ready", "the gateway has no configuration yet"),
                kind="mcp",
            )
            return
        caller: Caller
        key = presented_key(incoming.headers)
        authorization = incoming.headers.get("authorization", "")
        try:
            if key is not None:
                caller = caller_for_key(snapshot, key, time.time())
            elif authorization[:7].lower() == "bearer " and self._bearer is not None:
                caller = await self._bearer.caller(
                    snapshot, authorization[7:].strip(), resource=self._public_url + path
                )
            else:
                self._answer(
                    connection,
                    incoming,
                    unauthorized(
                        "send an access token or an API key", metadata, invalid_token=False
                    ),
                    kind="mcp",
                )
                return
        except (KeyRejected, Unauthenticated) as exc:
            detail = exc.detail if isinstance(exc, Unauthenticated) else str(exc)
            self._answer(
                connection, incoming, unauthorized(detail, metadata, invalid_token=True), kind="mcp"
            )
            return
        try:
            response = await mcp.handle(incoming.to_request(), caller, scope)
        except Exception:
            _log.exception("MCP endpoint failed", extra={"request_id": incoming.request_id})
            self._answer(
                connection,
                incoming,
                problem(
                    500,
                    "internal-error",
                    "the MCP endpoint failed; the request id identifies it in the logs",
                ),
                kind="mcp",
                subject=caller.subject,
            )
            return
        self._answer(connection, incoming, response, kind="mcp", subject=caller.subject)


_RATELIMIT_HEAD: Final = (
    b"ratelimit-limit: %d\r\nratelimit-remaining: %d\r\nratelimit-reset: %d\r\n"
)


def _ratelimit_headers(admission: Admission) -> list[tuple[str, str]]:
    if admission.limit is None or admission.remaining is None:
        return []
    reset = max(0, math.ceil(admission.reset or 0.0))
    return [
        ("ratelimit-limit", str(admission.limit)),
        ("ratelimit-remaining", str(max(0, admission.remaining))),
        ("ratelimit-reset", str(reset)),
    ]
