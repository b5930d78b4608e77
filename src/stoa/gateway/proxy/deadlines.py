"""Upstream deadlines of the proxied calls in progress, checked by one periodic sweep.

A timer per request (`loop.call_later`, then `cancel`) costs two heap operations and a
handle object per call; registering in a dict costs one insertion and one removal. The
price is precision: a deadline fires up to `SWEEP_SECONDS` late.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final, Protocol

SWEEP_SECONDS: Final = 0.1


class Expiring(Protocol):
    deadline: float  # time.perf_counter() value

    def expire(self) -> None:
        """The deadline has passed."""
        ...


class Deadlines:
    """The calls of one worker that are waiting on an upstream."""

    def __init__(self) -> None:
        self._active: dict[Expiring, None] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._scheduled = False

    def add(self, call: Expiring) -> None:
        self._active[call] = None
        if not self._scheduled:
            self._schedule()

    def discard(self, call: Expiring) -> None:
        self._active.pop(call, None)

    def _schedule(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        self._scheduled = True
        self._loop.call_later(SWEEP_SECONDS, self._sweep)

    def _sweep(self) -> None:
        self._scheduled = False
        now = time.perf_counter()
        expired = [call for call in self._active if call.deadline <= now]
        for call in expired:
            self._active.pop(call, None)
            call.expire()
        if self._active:
            self._schedule()
