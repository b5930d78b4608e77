"""The gateway's Prometheus metrics.

Labelled children are cached in plain dicts (`requests_child`), because
`Metric.labels()` takes a lock and validates labels on every call.
"""

from __future__ import annotations

from bisect import bisect_left

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)

REQUESTS = Counter(
    "stoa_gateway_requests",
    "Requests answered, by path kind (proxy, mcp, other), API, tool and status class",
    ["kind", "tenant", "api", "tool", "status_class"],
)
OVERHEAD = Histogram(
    "stoa_gateway_overhead_seconds",
    "Time spent in the gateway itself per request (total minus upstream time)",
    ["kind"],
    buckets=_LATENCY_BUCKETS,
)
UPSTREAM = Histogram(
    "stoa_gateway_upstream_seconds",
    "Time from sending a request upstream to its last response byte",
    ["kind"],
    buckets=_LATENCY_BUCKETS,
)
RATELIMIT_REJECTIONS = Counter(
    "stoa_gateway_ratelimit_rejections", "Calls refused by rate limits or quotas", ["api"]
)
RATELIMIT_FALLBACK = Gauge(
    "stoa_gateway_ratelimit_local_fallback",
    "1 while Redis is unreachable and limits are counted per process",
)
ACTIVE_SESSIONS = Gauge("stoa_gateway_mcp_active_sessions", "MCP sessions open (not ended)")
SNAPSHOT_GENERATED = Gauge(
    "stoa_gateway_snapshot_generated_timestamp_seconds",
    "When the control plane built the snapshot being served (its age: time() - this)",
)
SNAPSHOT_LOADED = Gauge(
    "stoa_gateway_snapshot_loaded_timestamp_seconds", "When this gateway loaded its snapshot"
)
SNAPSHOT_INFO = Gauge(
    "stoa_gateway_snapshot_info", "The snapshot being served (value 1)", ["hash", "schema_version"]
)
USAGE_EVENTS = Counter(
    "stoa_gateway_usage_events", "Usage events recorded into the buffer", ["tenant", "api"]
)
USAGE_DROPPED = Counter(
    "stoa_gateway_usage_events_dropped", "Usage events dropped because the buffer was full"
)
UPSTREAM_FAILURES = Counter(
    "stoa_gateway_upstream_failures",
    "Upstream calls that failed (connect, reset, timeout, circuit open)",
    ["reason"],
)

# The hot path only bumps plain counters here; `flush()` (every second, and before each
# scrape) folds them into the Prometheus metrics. Each prometheus-client update takes a
# lock and walks the buckets, which would cost more than the rest of a proxied request.
_pending_requests: dict[tuple[str, str, str, str, int], int] = {}
_STATUS_CLASS = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}


class _PendingHistogram:
    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(_LATENCY_BUCKETS) + 1)
        self.total = 0.0


_pending_latency: dict[tuple[Histogram, str], _PendingHistogram] = {}


def count_request(kind: str, tenant: str, api: str, tool: str, status: int) -> None:
    key = (kind, tenant, api, tool, status // 100)
    _pending_requests[key] = _pending_requests.get(key, 0) + 1


def _observe(histogram: Histogram, kind: str, seconds: float) -> None:
    pending = _pending_latency.get((histogram, kind))
    if pending is None:
        pending = _pending_latency[(histogram, kind)] = _PendingHistogram()
    pending.counts[bisect_left(_LATENCY_BUCKETS, seconds)] += 1
    pending.total += seconds


def observe_request(
    kind: str, tenant: str, api: str, status: int, elapsed: float, upstream: float | None
) -> None:
    """One answered request: counted, its overhead and upstream time observed.

    `count_request` and the two `observe_*` in one call, inlined, because it runs on
    every request and each Python call costs about as much as the work it wraps."""
    key = (kind, tenant, api, "", status // 100)
    _pending_requests[key] = _pending_requests.get(key, 0) + 1
    pending = _pending_latency.get((OVERHEAD, kind))
    if pending is None:
        pending = _pending_latency[(OVERHEAD, kind)] = _PendingHistogram()
    if upstream is None:
        pending.counts[bisect_left(_LATENCY_BUCKETS, elapsed)] += 1
        pending.total += elapsed
        return
    overhead = elapsed - upstream
    pending.counts[bisect_left(_LATENCY_BUCKETS, overhead)] += 1
    pending.total += overhead
    pending = _pending_latency.get((UPSTREAM, kind))
    if pending is None:
        pending = _pending_latency[(UPSTREAM, kind)] = _PendingHistogram()
    pending.counts[bisect_left(_LATENCY_BUCKETS, upstream)] += 1
    pending.total += upstream


def observe_overhead(kind: str, seconds: float) -> None:
    _observe(OVERHEAD, kind, seconds)


def observe_upstream(kind: str, seconds: float) -> None:
    _observe(UPSTREAM, kind, seconds)


def flush() -> None:
    """Fold what the hot path counted into the Prometheus metrics."""
    global _pending_requests, _pending_latency
    requests, _pending_requests = _pending_requests, {}
    for (kind, tenant, api, tool, status_class), count in requests.items():
        REQUESTS.labels(kind, tenant, api, tool, _STATUS_CLASS.get(status_class, "5xx")).inc(count)
    latency, _pending_latency = _pending_latency, {}
    for (histogram, kind), pending in latency.items():
        child = histogram.labels(kind)
        # prometheus-client keeps per-bucket (not cumulative) counts, the last one for +Inf.
        buckets = child._buckets
        for index, count in enumerate(pending.counts):
            if count:
                buckets[index].inc(count)
        child._sum.inc(pending.total)
