"""Idle client connections are closed; connections being answered are not."""

from __future__ import annotations

import asyncio
import time

from stoa.gateway.http.idle import IdleReaper


class FakeConnection:
    def __init__(self, idle_for: float, answering: bool) -> None:
        self.last_active = time.monotonic() - idle_for
        self._answering = answering
        self.closed = False

    @property
    def answering(self) -> bool:
        return self._answering

    def close(self) -> None:
        self.closed = True


def test_sweep_closes_only_idle_connections_not_being_answered() -> None:
    reaper = IdleReaper(idle_seconds=10)
    idle = FakeConnection(idle_for=60, answering=False)
    busy = FakeConnection(idle_for=60, answering=True)
    fresh = FakeConnection(idle_for=1, answering=False)
    reaper.connections.update({idle, busy, fresh})

    async def sweep_once() -> None:
        reaper._sweep()
        reaper.stop()  # the sweep schedules the next one

    asyncio.run(sweep_once())
    assert idle.closed
    assert not busy.closed
    assert not fresh.closed
