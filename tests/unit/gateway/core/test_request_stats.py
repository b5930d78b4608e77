"""Request counts and latencies kept on the hot path reach the Prometheus metrics intact."""

from __future__ import annotations

from bisect import bisect_left

from prometheus_client import REGISTRY

from stoa.gateway.telemetry import metrics


def _sample(name: str, labels: dict[str, str]) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_latencies_fall_in_the_same_buckets_as_bisect() -> None:
    bounds = metrics._LATENCY_BUCKETS
    for seconds in (0.0, *bounds, *(bound * 1.01 for bound in bounds), 1e9):
        assert metrics.bucket_of(seconds) == bisect_left(bounds, seconds)


def test_flush_folds_counts_and_latencies_into_prometheus() -> None:
    labels = {"kind": "proxy", "tenant": "t-stats", "api": "a-stats", "tool": ""}
    ok = {**labels, "status_class": "2xx"}
    failed = {**labels, "status_class": "5xx"}
    before_ok = _sample("stoa_gateway_requests_total", ok)
    before_failed = _sample("stoa_gateway_requests_total", failed)
    before_upstream = _sample("stoa_gateway_upstream_seconds_count", {"kind": "proxy"})
    stats = metrics.stats_for("proxy", "t-stats", "a-stats")
    assert metrics.stats_for("proxy", "t-stats", "a-stats") is stats
    stats.observe(200, 0.003, 0.002)
    stats.observe(201, 0.004, 0.003)
    stats.observe(502, 0.001, -1.0)  # no upstream answer
    stats.observe(0, 0.001, -1.0)  # nothing answered at all: a server error
    metrics.flush()
    assert _sample("stoa_gateway_requests_total", ok) == before_ok + 2
    assert _sample("stoa_gateway_requests_total", failed) == before_failed + 2
    assert _sample("stoa_gateway_upstream_seconds_count", {"kind": "proxy"}) == before_upstream + 2
    metrics.flush()  # nothing new: nothing added twice
    assert _sample("stoa_gateway_requests_total", ok) == before_ok + 2
