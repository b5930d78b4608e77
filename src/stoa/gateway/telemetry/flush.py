"""Folding the hot path's plain counters into Prometheus metrics, every second."""

from __future__ import annotations

import asyncio

from stoa.gateway import usage
from stoa.gateway.telemetry import metrics

FLUSH_SECONDS = 1.0


def flush_metrics() -> None:
    metrics.flush()
    usage.flush_metrics()


class PeriodicFlush:
    """Calls `flush_metrics` every `FLUSH_SECONDS` on the running loop until `stop()`."""

    def __init__(self) -> None:
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._handle = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self._tick)

    def _tick(self) -> None:
        flush_metrics()
        self.start()

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        flush_metrics()
