"""Metrics of config sync. They are set in the supervisor process, which is why the
synced gateway always keeps its metrics in a multiprocess directory (workers read it)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

SYNC_FAILURES = Counter(
    "stoa_gateway_config_sync_failures",
    "Exchanges with the control plane that failed: `unreachable` (network error, timeout, "
    "5xx), `token_refused` (401/403: the gateway token is unknown or revoked), `error` "
    "(anything else; logged with a traceback)",
    ["reason"],
)
REFUSED_SNAPSHOTS = Counter(
    "stoa_gateway_config_sync_refused_snapshots",
    "Snapshots fetched that failed to decode or compile; the previous one kept serving",
)
SWAPS = Counter(
    "stoa_gateway_config_sync_swaps",
    "Snapshots fetched from the control plane, compiled and served (the first one included)",
)
CONNECTED = Gauge(
    "stoa_gateway_config_sync_connected",
    "1 while the last exchange with the control plane succeeded, 0 while it is failing",
    multiprocess_mode="mostrecent",
)
LAST_SUCCESS = Gauge(
    "stoa_gateway_config_sync_last_success_timestamp_seconds",
    "When the control plane last answered (a long poll answers at least every "
    "STOA_GATEWAY__SYNC_WAIT_SECONDS); time() - this is how long sync has been failing",
    multiprocess_mode="max",
)
