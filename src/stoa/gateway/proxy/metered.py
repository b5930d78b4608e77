"""A proxied call under a grant: the relay, and what it leaves behind when it is over
(the request counted, an access-log line, a usage event)."""

from __future__ import annotations

import time
from typing import Protocol

from stoa.gateway import usage
from stoa.gateway.http.body_stream import BodyStream
from stoa.gateway.http.server import HttpConnection, Incoming
from stoa.gateway.proxy.pool import UpstreamPool
from stoa.gateway.proxy.relay import ProxyRelay
from stoa.gateway.snapshot.compiled import CompiledApi, Grant, UpstreamTarget
from stoa.gateway.telemetry.metrics import RequestStats


class Observer(Protocol):
    def observe(
        self,
        incoming: Incoming,
        status: int,
        stats: RequestStats,
        subject: str,
        response_bytes: int,
        upstream_seconds: float,
    ) -> None:
        """Count an answer and log it."""
        ...


class MeteredRelay(ProxyRelay):
    """A proxied call under a grant: counted, logged and metered when it is over."""

    __slots__ = ("_api", "_grant", "_observer", "_rest", "_subject")

    def __init__(
        self,
        observer: Observer,
        api: CompiledApi,
        grant: Grant,
        subject: str,
        rest: bytes,
        client: HttpConnection,
        incoming: Incoming,
        pool: UpstreamPool,
        target: UpstreamTarget,
        request: bytes,
        extra_head: bytes,
        timeout: float,
        retries: int,
        *,
        body_stream: BodyStream | None,
        body_limit: int | None,
    ) -> None:
        super().__init__(
            client,
            incoming,
            pool,
            target,
            request,
            extra_head,
            timeout,
            retries,
            body_stream=body_stream,
            body_limit=body_limit,
        )
        self._observer = observer
        self._api = api
        self._grant = grant
        self._subject = subject
        self._rest = rest

    def finished(self, status: int, response_bytes: int, upstream_seconds: float) -> None:
        incoming, api, grant = self._incoming, self._api, self._grant
        self._observer.observe(
            incoming, status, api.proxy_stats, self._subject, response_bytes, upstream_seconds
        )
        stream = self._stream
        usage.record(
            usage.UsageEvent(
                at=time.time(),
                tenant_id=api.tenant_id,
                application_id=grant.application_id,
                subscription_id=grant.subscription_id,
                api_id=api.id,
                route=incoming.method + " " + self._rest.decode("latin-1"),
                status=status,
                latency_ms=(time.perf_counter() - incoming.started) * 1000,
                request_bytes=len(incoming.body) if stream is None else stream.size,
                response_bytes=response_bytes,
                tenant=api.tenant,
                api=api.name,
            )
        )
