"""Rollup math: histogram buckets, percentiles, and summing records into rows."""

from __future__ import annotations

from datetime import UTC, datetime

from stoa.contract.usage import UsageRecord
from stoa.controlplane.usage import histogram
from stoa.controlplane.usage.rollup import Totals, roll_up

T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC).timestamp()


def record(
    at: float = T0, status: int = 200, latency_ms: float = 10.0, route: str = "r"
) -> UsageRecord:
    return UsageRecord(
        at=at,
        tenant_id="ten",
        application_id="app",
        subscription_id="sub",
        api_id="api",
        route=route,
        status=status,
        latency_ms=latency_ms,
        request_bytes=3,
        response_bytes=7,
    )


def test_bucket_bounds_are_inclusive_and_the_last_bucket_is_unbounded() -> None:
    assert histogram.bucket_of(0.0) == 0
    assert histogram.bucket_of(1.0) == 0
    assert histogram.bucket_of(1.01) == 1
    assert histogram.bucket_of(30_000.0) == histogram.BUCKETS - 2
    assert histogram.bucket_of(10**9) == histogram.BUCKETS - 1


def test_percentiles_interpolate_inside_the_bucket() -> None:
    counts = [0] * histogram.BUCKETS
    counts[histogram.bucket_of(100.0)] = 100  # all in (75, 100]
    assert histogram.percentile(counts, 0.5) == 87.5
    assert histogram.percentile(counts, 1.0) == 100.0
    assert histogram.percentile([0] * histogram.BUCKETS, 0.5) is None


def test_the_slowest_bucket_answers_its_lower_bound() -> None:
    counts = [0] * histogram.BUCKETS
    counts[-1] = 1
    assert histogram.percentile(counts, 0.99) == 30_000


def test_merged_histograms_give_the_percentiles_of_all_calls() -> None:
    fast = roll_up([record(latency_ms=1.0) for _ in range(90)])
    slow = roll_up([record(latency_ms=900.0) for _ in range(10)])
    both = roll_up([record(latency_ms=1.0) for _ in range(90)] + [record(latency_ms=900.0)] * 10)
    key = next(k for k in both if k[0] == "minute")
    merged = histogram.merged([fast[key].latency, slow[key].latency])
    assert merged == both[key].latency
    assert histogram.percentile(merged, 0.5) is not None
    assert histogram.percentile(merged, 0.5) <= 1.0
    assert 750 < (histogram.percentile(merged, 0.95) or 0) <= 1000


def test_records_roll_up_per_minute_and_per_day() -> None:
    rows = roll_up(
        [
            record(at=T0 + 1),
            record(at=T0 + 59.9, status=404),
            record(at=T0 + 60, status=502),
            record(at=T0 + 61, route="other"),
        ]
    )
    minutes = {(k[1].minute, k[6]): v for k, v in rows.items() if k[0] == "minute"}
    days = {k[6]: v for k, v in rows.items() if k[0] == "day"}
    assert {key: t.count for key, t in minutes.items()} == {
        (0, "r"): 2,
        (1, "r"): 1,
        (1, "other"): 1,
    }
    assert (minutes[(0, "r")].errors, minutes[(0, "r")].server_errors) == (1, 0)
    assert (minutes[(1, "r")].errors, minutes[(1, "r")].server_errors) == (1, 1)
    assert days["r"].count == 3
    assert days["r"].request_bytes == 9
    assert days["r"].response_bytes == 21
    day_key = next(k for k in rows if k[0] == "day")
    assert day_key[1] == datetime(2026, 3, 4, tzinfo=UTC)


def test_totals_add_like_the_calls_they_count() -> None:
    one, two = Totals(), Totals()
    one.add_call(200, 5.0, 1, 2)
    two.add_call(500, 50.0, 3, 4)
    one.add(two)
    assert (one.count, one.errors, one.server_errors) == (2, 1, 1)
    assert one.latency_ms_sum == 55.0
    assert sum(one.latency) == 2
