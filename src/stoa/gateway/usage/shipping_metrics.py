"""Metrics of usage shipping (the hot path's own usage counters are in telemetry.metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

SHIPPED_EVENTS = Counter(
    "stoa_gateway_usage_shipped_events", "Usage events the control plane confirmed"
)
LOST_EVENTS = Counter(
    "stoa_gateway_usage_lost_events",
    "Usage events given up: `spool_full` (the spool bound was reached), `rejected` (the "
    "control plane refused the batch), `invalid` (an event the control plane would refuse, "
    "left out of its batch), `disk_error` (the spool could not be written)",
    ["reason"],
)
CORRUPT_RECORDS = Counter(
    "stoa_gateway_usage_spool_corrupt_records",
    "Spool records that could not be read back (torn by a crash, or damaged) and were skipped",
)
DELIVERY_FAILURES = Counter(
    "stoa_gateway_usage_delivery_failures",
    "Attempts to send a batch that failed (control plane unreachable or answering an error)",
)
SPOOL_BYTES = Gauge(
    "stoa_gateway_usage_spool_bytes",
    "Bytes waiting in the usage spool (all workers)",
    multiprocess_mode="livesum",
)
