"""Usage events: one per call, into an in-process buffer that a shipper drains.

`record` is called on every request, so it only appends. Each worker process has its own
buffer; with a control plane to report to (`STOA_GATEWAY_TOKEN` set) the worker's
`shipper.UsageShipper` drains it every flush interval into the worker's on-disk spool
(`spool.py`) and on to the control plane. The buffer is bounded: if nobody drains it, the
oldest events are dropped first, and counted.
"""

from __future__ import annotations

from collections import deque
from typing import Final

import msgspec

from stoa.gateway.telemetry import metrics

BUFFER_SIZE: Final = 100_000


class UsageEvent(msgspec.Struct, frozen=True):
    """One call. `route` is the tool name for MCP calls, the forwarded path for REST."""

    at: float  # Unix seconds
    tenant_id: str
    application_id: str
    subscription_id: str
    api_id: str
    route: str
    status: int
    latency_ms: float
    request_bytes: int
    response_bytes: int
    tenant: str = ""  # the API's tenant slug, for metrics
    api: str = ""  # the API's name, for metrics


buffer: Final[deque[UsageEvent]] = deque(maxlen=BUFFER_SIZE)


class _Counts:
    """Counted here and folded into the metrics by `flush_metrics` (see
    telemetry.metrics); an object, because rebinding module globals costs a dict write
    per call once compiled."""

    def __init__(self) -> None:
        self.by_api: dict[tuple[str, str], int] = {}
        self.dropped = 0


_counts: Final = _Counts()


def record(event: UsageEvent) -> None:
    """Append `event` to the buffer (never blocks, never raises)."""
    counts = _counts
    if len(buffer) == BUFFER_SIZE:
        counts.dropped += 1
    buffer.append(event)
    key = (event.tenant, event.api)
    counts.by_api[key] = counts.by_api.get(key, 0) + 1


def flush_metrics() -> None:
    counts = _counts
    pending, counts.by_api = counts.by_api, {}
    for (tenant, api), count in pending.items():
        metrics.USAGE_EVENTS.labels(tenant, api).inc(count)
    if counts.dropped:
        metrics.USAGE_DROPPED.inc(counts.dropped)
        counts.dropped = 0


def drain(limit: int = 10_000) -> list[UsageEvent]:
    """Up to `limit` of the oldest events, removed from the buffer."""
    taken: list[UsageEvent] = []
    while buffer and len(taken) < limit:
        taken.append(buffer.popleft())
    return taken
