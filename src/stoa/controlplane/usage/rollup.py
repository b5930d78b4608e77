"""Summing usage records into per-minute and per-day rollup rows (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from stoa.contract.usage import UsageRecord
from stoa.controlplane.usage import histogram

Granularity = Literal["minute", "day"]
SECONDS: dict[Granularity, int] = {"minute": 60, "day": 86_400}

# (granularity, bucket start, tenant, application, subscription, api, route)
RollupKey = tuple[str, datetime, str, str, str, str, str]


@dataclass(slots=True)
class Totals:
    """What a rollup row counts; adding two gives the row of both."""

    count: int = 0
    errors: int = 0
    server_errors: int = 0
    latency_ms_sum: float = 0.0
    request_bytes: int = 0
    response_bytes: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * histogram.BUCKETS)

    def add_call(
        self, status: int, latency_ms: float, request_bytes: int, response_bytes: int
    ) -> None:
        self.count += 1
        if status >= 400 or status == 0:
            self.errors += 1
        if status >= 500 or status == 0:
            self.server_errors += 1
        self.latency_ms_sum += latency_ms
        self.request_bytes += request_bytes
        self.response_bytes += response_bytes
        self.latency[histogram.bucket_of(latency_ms)] += 1

    def add(self, other: Totals) -> None:
        self.count += other.count
        self.errors += other.errors
        self.server_errors += other.server_errors
        self.latency_ms_sum += other.latency_ms_sum
        self.request_bytes += other.request_bytes
        self.response_bytes += other.response_bytes
        for index, count in enumerate(other.latency):
            self.latency[index] += count


def bucket_start(at: float, granularity: Granularity) -> datetime:
    """Start (UTC) of the minute or day holding the Unix time `at`."""
    seconds = SECONDS[granularity]
    return datetime.fromtimestamp(at - at % seconds, UTC)


def roll_up(records: Iterable[UsageRecord]) -> dict[RollupKey, Totals]:
    """The minute and day rows that `records` add to, summed per key."""
    rows: dict[RollupKey, Totals] = {}
    for record in records:
        for granularity in ("minute", "day"):
            key: RollupKey = (
                granularity,
                bucket_start(record.at, granularity),
                record.tenant_id,
                record.application_id,
                record.subscription_id,
                record.api_id,
                record.route,
            )
            totals = rows.get(key)
            if totals is None:
                totals = rows[key] = Totals()
            totals.add_call(
                record.status, record.latency_ms, record.request_bytes, record.response_bytes
            )
    return rows


def row_values(key: RollupKey, totals: Totals) -> dict[str, Any]:
    """Column values of the `usage_rollups` row for `key`."""
    granularity, bucket, tenant_id, application_id, subscription_id, api_id, route = key
    values: dict[str, Any] = {
        "granularity": granularity,
        "bucket": bucket,
        "tenant_id": tenant_id,
        "application_id": application_id,
        "subscription_id": subscription_id,
        "api_id": api_id,
        "route": route,
        "count": totals.count,
        "errors": totals.errors,
        "server_errors": totals.server_errors,
        "latency_ms_sum": totals.latency_ms_sum,
        "request_bytes": totals.request_bytes,
        "response_bytes": totals.response_bytes,
    }
    for column, count in zip(histogram.COLUMNS, totals.latency, strict=True):
        values[column] = count
    return values
