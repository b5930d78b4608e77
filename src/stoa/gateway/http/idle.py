"""Closing client connections that sit idle: keep-alive connections nobody uses, and
requests that never finish arriving (slowloris). One sweep every few seconds instead of a
timer per request, so the hot path only stores a timestamp."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

IDLE_SECONDS = 75.0  # nginx's keepalive_timeout default
_SWEEP_SECONDS = 5.0


class Reapable(Protocol):
    last_active: float

    @property
    def answering(self) -> bool: ...

    def close(self) -> None: ...


class IdleReaper:
    def __init__(self, idle_seconds: float = IDLE_SECONDS) -> None:
        self.idle_seconds = idle_seconds
        self.connections: set[Reapable] = set()
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._handle = asyncio.get_running_loop().call_later(_SWEEP_SECONDS, self._sweep)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _sweep(self) -> None:
        cutoff = time.monotonic() - self.idle_seconds
        for connection in list(self.connections):
            # A connection being answered is bounded by the upstream timeout instead.
            if connection.last_active < cutoff and not connection.answering:
                connection.close()
        self.start()
