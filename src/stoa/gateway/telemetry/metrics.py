"""The gateway's Prometheus metrics.

Requests are counted in `RequestStats` objects on the hot path and folded into the
Prometheus metrics by `flush()`, because `Metric.labels()` takes a lock and validates
labels on every call.
"""

from __future__ import annotations

from typing import Final

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
ACTIVE_SESSIONS = Gauge(
    "stoa_gateway_mcp_active_sessions",
    "MCP sessions this worker opened that have neither ended here nor expired",
)
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
# By status // 100; a status of 0 (no answer at all) counts as a server error.
_STATUS_CLASS: Final = ("5xx", "1xx", "2xx", "3xx", "4xx", "5xx")
_BUCKET_COUNT: Final = len(_LATENCY_BUCKETS) + 1  # the last one is +Inf


# Declared as a variable-length tuple: mypyc keeps it as one static object (a Final
# fixed-length tuple of floats fails at import when compiled).
_BOUNDS: Final[tuple[float, ...]] = _LATENCY_BUCKETS


def bucket_of(seconds: float) -> int:
    """The index of the first latency bucket that holds `seconds` (`bisect_left`, as a
    loop the compiler turns into plain comparisons: most answers fall in the first few)."""
    index = 0
    for bound in _BOUNDS:
        if seconds <= bound:
            return index
        index += 1
    return index


class RequestStats:
    """What one (kind, tenant, API, tool) answered since the last flush.

    One object per label set, found once (by the snapshot compiler for proxied APIs, by
    `stats_for` elsewhere) and kept across snapshots, so counting a request is a few
    increments on its slots: no tuple key, no dict.
    """

    __slots__ = (
        "by_class",
        "dirty",
        "labels",
        "overhead",
        "overhead_sum",
        "upstream",
        "upstream_sum",
    )

    def __init__(self, kind: str, tenant: str, api: str, tool: str) -> None:
        self.labels = (kind, tenant, api, tool)
        self.by_class = [0] * 6  # index = status // 100
        self.overhead = [0] * _BUCKET_COUNT
        self.upstream = [0] * _BUCKET_COUNT
        self.overhead_sum = 0.0
        self.upstream_sum = 0.0
        self.dirty = False

    def count(self, status: int) -> None:
        """One answer, without latency (a tool call inside an MCP request)."""
        self.by_class[min(status // 100, 5)] += 1
        if not self.dirty:
            self.dirty = True
            _DIRTY.append(self)

    def observe(self, status: int, elapsed: float, upstream: float) -> None:
        """One answer that took `elapsed` seconds, `upstream` of them waiting on the
        upstream (negative: no upstream was called)."""
        self.by_class[min(status // 100, 5)] += 1
        if upstream < 0.0:
            self.overhead[bucket_of(elapsed)] += 1
            self.overhead_sum += elapsed
        else:
            overhead = elapsed - upstream
            self.overhead[bucket_of(overhead)] += 1
            self.overhead_sum += overhead
            self.upstream[bucket_of(upstream)] += 1
            self.upstream_sum += upstream
        if not self.dirty:
            self.dirty = True
            _DIRTY.append(self)

    def observe_upstream(self, seconds: float) -> None:
        self.upstream[bucket_of(seconds)] += 1
        self.upstream_sum += seconds
        if not self.dirty:
            self.dirty = True
            _DIRTY.append(self)

    def fold(self) -> None:
        """Add what was counted to the Prometheus metrics, and start again from zero."""
        kind, tenant, api, tool = self.labels
        for index, count in enumerate(self.by_class):
            if count:
                REQUESTS.labels(kind, tenant, api, tool, _STATUS_CLASS[index]).inc(count)
        _fold_histogram(OVERHEAD, kind, self.overhead, self.overhead_sum)
        _fold_histogram(UPSTREAM, kind, self.upstream, self.upstream_sum)
        self.by_class = [0] * 6
        self.overhead = [0] * _BUCKET_COUNT
        self.upstream = [0] * _BUCKET_COUNT
        self.overhead_sum = 0.0
        self.upstream_sum = 0.0
        self.dirty = False


_DIRTY: Final[list[RequestStats]] = []
_STATS: Final[dict[tuple[str, str, str, str], RequestStats]] = {}


def stats_for(kind: str, tenant: str = "", api: str = "", tool: str = "") -> RequestStats:
    """The one stats object of these labels."""
    key = (kind, tenant, api, tool)
    stats = _STATS.get(key)
    if stats is None:
        stats = _STATS[key] = RequestStats(kind, tenant, api, tool)
    return stats


def _fold_histogram(histogram: Histogram, kind: str, counts: list[int], total: float) -> None:
    if not any(counts):
        return
    child = histogram.labels(kind)
    # prometheus-client keeps per-bucket (not cumulative) counts, the last one for +Inf.
    buckets = child._buckets
    for index, count in enumerate(counts):
        if count:
            buckets[index].inc(count)
    child._sum.inc(total)


def count_request(kind: str, tenant: str, api: str, tool: str, status: int) -> None:
    stats_for(kind, tenant, api, tool).count(status)


def observe_upstream(kind: str, seconds: float) -> None:
    stats_for(kind).observe_upstream(seconds)


def flush() -> None:
    """Fold what the hot path counted into the Prometheus metrics."""
    dirty = list(_DIRTY)
    _DIRTY.clear()
    for stats in dirty:
        stats.fold()
