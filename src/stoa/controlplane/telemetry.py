"""Prometheus metrics for the control plane, recorded by one pure-ASGI middleware."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ControlPlaneMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "stoa_controlplane_requests_total",
            "Control plane HTTP requests",
            ["method", "route", "status_class"],
            registry=registry,
        )
        self.latency = Histogram(
            "stoa_controlplane_request_seconds",
            "Control plane request latency",
            ["method", "route"],
            registry=registry,
        )


class MetricsMiddleware:
    """Counts requests by route template (not raw path, which would explode cardinality)."""

    def __init__(self, app: ASGIApp, metrics: ControlPlaneMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status_code = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            method = scope["method"]
            self.metrics.requests.labels(method, template, f"{status_code // 100}xx").inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)
